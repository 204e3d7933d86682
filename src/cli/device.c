/* `citydesk device`: register IoT devices one by one or from a CSV file (each secret is printed
 * once), give a device a new secret, and list the registry; also while the server runs (it picks
 * up the changes within DEVICES_SAVE_MS). See docs/internals/devices.md. */
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "app/devices.h"
#include "app/mapview.h"
#include "cli/cli.h"
#include "store/store_devices.h"
#include "util/alloc.h"
#include "util/csv.h"

static const char usage[] =
    "usage: citydesk device add --id ID --type TYPE [--name TEXT] [--site TEXT] [--owner TEXT]\n"
    "                           [--lat LAT --lng LNG] [--address HEX12] [--tags a,b]\n"
    "       citydesk device import --file devices.csv [--out secrets.csv]\n"
    "       citydesk device secret --id ID\n"
    "       citydesk device list [--type TYPE]\n"
    "TYPE is smoke_detector, electrical_fire_monitor, hydrant_pressure, uitd, water_meter,\n"
    "rfid_reader, energy_meter or camera. LAT/LNG are WGS-84; the device is placed in its street,\n"
    "community and grid cell. --address is a GB/T 26875.3 transmitter's 12-hex-digit address.\n"
    "The import CSV has a header naming its columns: id,type (required), name, site, owner,\n"
    "lat, lng, address_hex, tags; all rows go in or none. Secrets are printed once (import: as\n"
    "id,secret CSV on stdout or into --out, created with mode 0600); only their hashes are kept.\n";

struct device_opts {
	const char *id, *type, *name, *site, *owner, *lat, *lng, *address, *tags, *file, *out;
};

static const struct cli_flag flags[] = {
    {"--id", offsetof(struct device_opts, id), 0},
    {"--type", offsetof(struct device_opts, type), 0},
    {"--name", offsetof(struct device_opts, name), 0},
    {"--site", offsetof(struct device_opts, site), 0},
    {"--owner", offsetof(struct device_opts, owner), 0},
    {"--lat", offsetof(struct device_opts, lat), 0},
    {"--lng", offsetof(struct device_opts, lng), 0},
    {"--address", offsetof(struct device_opts, address), 0},
    {"--tags", offsetof(struct device_opts, tags), 0},
    {"--file", offsetof(struct device_opts, file), 0},
    {"--out", offsetof(struct device_opts, out), 0},
};

/* A minimal app over the store for devices_create: the map (to place devices), no registry. */
static int app_open(struct store *st, struct app *app)
{
	memset(app, 0, sizeof *app);
	app->st = st;
	pthread_rwlock_init(&app->map_lock, NULL);
	if (mapview_load(st, &app->map)) {
		fprintf(stderr, "citydesk device: the map could not be loaded from the store\n");
		pthread_rwlock_destroy(&app->map_lock);
		return 1;
	}
	return 0;
}

static void app_close(struct app *app)
{
	mapview_free(app->map);
	pthread_rwlock_destroy(&app->map_lock);
}

static int copy_opt(char *dst, size_t cap, const char *v, const char *flag)
{
	if (!v)
		return 0;
	if (strlen(v) >= cap) {
		fprintf(stderr, "citydesk device add: %s is longer than %zu bytes\n", flag, cap - 1);
		return 2;
	}
	snprintf(dst, cap, "%s", v);
	return 0;
}

static int parse_deg(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !isfinite(v))
		return 2;
	*out = v;
	return 0;
}

static void print_problem(const char *verb, const char *where, const struct json_problem *p)
{
	fprintf(stderr, "citydesk device %s: %s%s%s%s%s\n", verb, where, p->message,
		p->field[0] ? " (field " : "", p->field, p->field[0] ? ")" : "");
}

static int device_add(struct store *st, const void *opts)
{
	const struct device_opts *o = opts;
	if (!o->id || !o->type) {
		fprintf(stderr, "citydesk device add: --id and --type are required\n%s", usage);
		return 2;
	}
	if (!o->lat != !o->lng) {
		fprintf(stderr, "citydesk device add: --lat and --lng go together\n");
		return 2;
	}
	struct iot_device d;
	memset(&d, 0, sizeof d);
	int urc = copy_opt(d.id, sizeof d.id, o->id, "--id") |
		  copy_opt(d.type, sizeof d.type, o->type, "--type") |
		  copy_opt(d.name, sizeof d.name, o->name, "--name") |
		  copy_opt(d.site, sizeof d.site, o->site, "--site") |
		  copy_opt(d.owner, sizeof d.owner, o->owner, "--owner") |
		  copy_opt(d.address_hex, sizeof d.address_hex, o->address, "--address") |
		  copy_opt(d.tags, sizeof d.tags, o->tags, "--tags");
	if (urc)
		return 2;
	if (o->lat) {
		if (parse_deg(o->lat, &d.lat) || parse_deg(o->lng, &d.lng)) {
			fprintf(stderr, "citydesk device add: --lat and --lng are decimal degrees\n");
			return 2;
		}
		d.has_point = true;
	}
	struct app app;
	if (app_open(st, &app))
		return 1;
	char secret[65];
	struct json_problem p;
	memset(&p, 0, sizeof p);
	struct store_actor actor = cli_actor();
	enum cd_err rc = devices_create(&app, &actor, &d, secret, &p);
	app_close(&app);
	if (rc) {
		print_problem("add", "", &p);
		return 1;
	}
	printf("added device %s (%s)", d.id, d.type);
	if (d.has_point)
		printf(" at %.6f,%.6f: street %s, community %s, grid %s", d.lat, d.lng,
		       d.street_code[0] ? d.street_code : "-", d.community_code[0] ? d.community_code : "-",
		       d.grid_code[0] ? d.grid_code : "-");
	printf("\nsecret: %s\n(shown only now: MQTT password and HTTP Basic password of the device)\n",
	       secret);
	return 0;
}

static int device_import(struct store *st, const void *opts)
{
	const struct device_opts *o = opts;
	if (!o->file) {
		fprintf(stderr, "citydesk device import: --file is required\n%s", usage);
		return 2;
	}
	char *text = NULL;
	size_t len = 0;
	if (file_read_all(o->file, 64u * 1024 * 1024, &text, &len)) {
		fprintf(stderr, "citydesk device import: cannot read %s\n", o->file);
		return 1;
	}
	struct iot_device *v = NULL;
	size_t n = 0, bad = 0;
	struct json_problem p;
	memset(&p, 0, sizeof p);
	enum cd_err rc = devices_parse_csv(text, len, &v, &n, &p);
	xfree(text);
	if (rc) {
		print_problem("import", "", &p);
		return 1;
	}
	FILE *out = stdout;
	int status = 1;
	char(*secrets)[65] = xcalloc(n ? n : 1, sizeof *secrets);
	struct app app;
	if (app_open(st, &app))
		goto done;
	struct store_actor actor = cli_actor();
	rc = devices_create_many(&app, &actor, v, n, secrets, &bad, &p);
	app_close(&app);
	if (rc) {
		char where[128] = "";
		if (bad < n)
			snprintf(where, sizeof where, "row %zu (device %.63s): ", bad + 2, v[bad].id);
		print_problem("import", where, &p);
		fprintf(stderr, "citydesk device import: nothing was imported\n");
		goto done;
	}
	if (o->out) {
		int fd = open(o->out, O_WRONLY | O_CREAT | O_EXCL, 0600);
		out = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!out) {
			if (fd >= 0)
				close(fd);
			fprintf(stderr,
				"citydesk device import: cannot create %s (it must not exist yet); the %zu "
				"devices "
				"are registered: give them new secrets with `citydesk device secret`\n",
				o->out, n);
			out = stdout;
			goto done;
		}
	}
	fprintf(out, "id,secret\n");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s,%s\n", v[i].id, secrets[i]);
	if (out != stdout && fclose(out) != 0)
		fprintf(stderr, "citydesk device import: writing %s failed\n", o->out);
	out = stdout;
	fprintf(stderr, "imported %zu devices%s%s\n", n, o->out ? "; secrets in " : "", o->out ? o->out : "");
	status = 0;
done:
	memset(secrets, 0, (n ? n : 1) * sizeof *secrets);
	xfree(secrets);
	xfree(v);
	return status;
}

static int device_secret(struct store *st, const void *opts)
{
	const struct device_opts *o = opts;
	if (!o->id) {
		fprintf(stderr, "citydesk device secret: --id is required\n%s", usage);
		return 2;
	}
	struct app app;
	memset(&app, 0, sizeof app);
	app.st = st;
	char secret[65];
	struct store_actor actor = cli_actor();
	enum cd_err rc = devices_new_secret(&app, &actor, o->id, secret);
	if (rc == CD_ERR_NOTFOUND) {
		fprintf(stderr, "citydesk device secret: no device %s\n", o->id);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "citydesk device secret: %s\n", cd_err_name(rc));
		return 1;
	}
	printf("new secret for %s: %s\n(shown only now; the old one no longer works)\n", o->id, secret);
	return 0;
}

struct list_ctx {
	const char *type;
	size_t n;
};

static int list_row(void *ctx, const struct store_device *d)
{
	struct list_ctx *c = ctx;
	if (c->type && strcmp(c->type, d->type) != 0)
		return 0;
	char seen[32] = "never";
	if (d->last_seen_ms) {
		time_t t = (time_t)(d->last_seen_ms / 1000);
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(seen, sizeof seen, "%Y-%m-%d %H:%M:%S", &tm);
	}
	printf("%-24s %-24s %-10s %-7s %-19s %-12s %s\n", d->id, d->type,
	       d->street_code[0] ? d->street_code : "-",
	       !d->active  ? "retired"
	       : d->online ? "online"
			   : "offline",
	       seen, d->address_hex[0] ? d->address_hex : "-", d->name);
	c->n++;
	return 0;
}

static int device_list(struct store *st, const void *opts)
{
	const struct device_opts *o = opts;
	struct list_ctx c = {o->type, 0};
	printf("%-24s %-24s %-10s %-7s %-19s %-12s %s\n", "id", "type", "street", "state", "last seen",
	       "address", "name");
	if (store_devices_list(st, 0, list_row, &c)) {
		fprintf(stderr, "citydesk device list: the store failed\n");
		return 1;
	}
	fprintf(stderr, "%zu devices (online state as last saved by the server)\n", c.n);
	return 0;
}

int cli_device(int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"add", device_add},
	    {"import", device_import},
	    {"secret", device_secret},
	    {"list", device_list},
	};
	struct device_opts o;
	memset(&o, 0, sizeof o);
	return cli_run_verbs(argc, argv, "device", usage, flags, sizeof flags / sizeof flags[0], verbs,
			     sizeof verbs / sizeof verbs[0], &o);
}
