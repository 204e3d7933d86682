/* `citydesk import`: boundaries (GeoJSON), units and the responsibility list (CSV) into
 * the store, all or nothing, also while the server runs (it reloads the map). */
#include <stdio.h>
#include <string.h>

#include "app/categories.h"
#include "app/district.h"
#include "cli/cli.h"

static const char usage[] =
	"usage: citydesk import boundaries --level district|street|community [--crs gcj02] [--approximate]\n"
	"                                  FILE.geojson\n"
	"       citydesk import units FILE.csv              (code,name,kind,handles[,street_code])\n"
	"       citydesk import responsibilities FILE.csv   (category_code,area_code,unit_code[,priority])\n"
	"       citydesk import categories FILE.csv         (code,name,parent_code[,limit_kind,limit_value,urgency])\n"
	"Boundaries are RFC 7946 Polygon/MultiPolygon features with `code` and `name` properties;\n"
	"coordinates are WGS-84 unless --crs gcj02. Importing communities rebuilds the unit grid.\n";

int cli_import(int argc, char **argv)
{
	struct config cfg;
	config_init(&cfg);
	int help = cli_usage_status(argc, argv, usage);
	if (help >= 0)
		return help;
	const char *what = argv[1], *level = NULL, *file = NULL;
	enum geojson_crs crs = GEOJSON_WGS84;
	int approximate = 0;
	for (int i = 2; i < argc; i++) {
		int taken = config_take_flag(&cfg, argc, argv, &i);
		if (taken < 0)
			return 2;
		if (taken)
			continue;
		if (strcmp(argv[i], "--level") == 0 && i + 1 < argc) {
			level = argv[++i];
		} else if (strcmp(argv[i], "--crs") == 0 && i + 1 < argc) {
			const char *c = argv[++i];
			if (strcmp(c, "gcj02") == 0) {
				crs = GEOJSON_GCJ02;
			} else if (strcmp(c, "wgs84") != 0) {
				fprintf(stderr, "citydesk import: --crs takes wgs84 or gcj02\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--approximate") == 0) {
			approximate = 1;
		} else if (argv[i][0] != '-' && !file) {
			file = argv[i];
		} else {
			fprintf(stderr, "citydesk import: unexpected argument %s\n%s", argv[i], usage);
			return 2;
		}
	}
	if (!file) {
		fprintf(stderr, "citydesk import: which file?\n%s", usage);
		return 2;
	}
	int is_boundaries = strcmp(what, "boundaries") == 0;
	if (is_boundaries && (!level || (strcmp(level, "district") && strcmp(level, "street") &&
					 strcmp(level, "community")))) {
		fprintf(stderr, "citydesk import boundaries: --level district|street|community is required\n");
		return 2;
	}
	if (!is_boundaries && strcmp(what, "units") && strcmp(what, "responsibilities") &&
	    strcmp(what, "categories")) {
		fprintf(stderr, "citydesk import: unknown kind \"%s\"\n%s", what, usage);
		return 2;
	}
	struct store *st = NULL;
	if (cli_open_store(&cfg, &st))
		return 1;
	struct store_actor actor = cli_actor();
	char reason[1024] = "";
	enum cd_err rc;
	if (is_boundaries)
		rc = district_import_boundaries(st, &actor, level, file, crs, approximate, reason, sizeof reason);
	else if (strcmp(what, "units") == 0)
		rc = district_import_units(st, &actor, file, reason, sizeof reason);
	else if (strcmp(what, "categories") == 0)
		rc = categories_import(&cfg, st, &actor, file, reason, sizeof reason);
	else
		rc = district_import_responsibilities(st, &actor, file, reason, sizeof reason);
	store_close(st);
	if (rc) {
		fprintf(stderr, "citydesk import %s: %s: nothing was imported: %s\n", what, file,
			reason[0] ? reason : cd_err_name(rc));
		return 1;
	}
	printf("imported %s from %s%s%s\n", what, file, reason[0] ? ": " : "", reason);
	return 0;
}
