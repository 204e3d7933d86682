/* Flag > environment > default resolution for citydesk's settings; see config.h. */
#include "app/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct {
	const char *flag;
	const char *env;
	const char *def;
	const char *help;
} settings[CFG_COUNT] = {
	[CFG_LISTEN] = {"--listen", "CITYDESK_LISTEN", "127.0.0.1:8080", "HTTP address, HOST:PORT"},
	[CFG_DATA] = {"--data", "CITYDESK_DATA", "./var", "data directory (store, models)"},
	[CFG_DISTRICT] = {"--district", "CITYDESK_DISTRICT", "data/luohu",
			  "default district data set, loaded into an empty store"},
	[CFG_SESSION_HOURS] = {"--session-hours", "CITYDESK_SESSION_HOURS", "12", "login session lifetime in hours"},
	[CFG_THREADS] = {"--threads", "CITYDESK_THREADS", "0", "HTTP worker threads (0 = one per core)"},
	[CFG_CALENDAR] = {"--calendar", "CITYDESK_CALENDAR", "data/calendar/holiday-cn",
			  "official holidays and make-up working days, one JSON file a year"},
	[CFG_CATEGORIES] = {"--categories", "CITYDESK_CATEGORIES", "data/categories",
			    "category taxonomies (hotline, urban management) and their time limits"},
	[CFG_WORK_HOURS] = {"--work-hours", "CITYDESK_WORK_HOURS", "08:30-12:00,14:00-18:00",
			    "working periods of a working day"},
	[CFG_MQTT_LISTEN] = {"--mqtt-listen", "CITYDESK_MQTT_LISTEN", "127.0.0.1:1883",
			     "address of the Mosquitto broker serve starts and supervises"},
	[CFG_MQTT_URL] = {"--mqtt-url", "CITYDESK_MQTT_URL", "",
			  "an external MQTT broker to use instead (mqtt://user:password@host:port)"},
	[CFG_GB26875_LISTEN] = {"--gb26875-listen", "CITYDESK_GB26875_LISTEN", "127.0.0.1:9026",
				"TCP address for GB/T 26875.3 fire-alarm transmitters"},
	[CFG_IOT] = {"--iot", "CITYDESK_IOT", "on", "on|off: run the MQTT broker, client and device listeners"},
	[CFG_DEMO] = {"--demo", "CITYDESK_DEMO", "off",
		      "on|off: seed an empty store with a year of history and keep a simulator running"},
	[CFG_DUP_AUTO_MERGE] = {"--dup-auto-merge", "CITYDESK_DUP_AUTO_MERGE", "off",
				"off, or the similarity (0..1, e.g. 0.8) from which duplicates merge automatically"},
	[CFG_WEB] = {"--web", "CITYDESK_WEB", "web", "folder of the console and the residents' app (static files)"},
};

void config_init(struct config *cfg)
{
	for (int k = 0; k < CFG_COUNT; k++) {
		const char *env = getenv(settings[k].env);
		cfg->values[k] = env && *env ? env : settings[k].def;
	}
}

int config_take_flag(struct config *cfg, int argc, char **argv, int *i)
{
	const char *arg = argv[*i];
	for (int k = 0; k < CFG_COUNT; k++) {
		size_t n = strlen(settings[k].flag);
		if (strncmp(arg, settings[k].flag, n) != 0)
			continue;
		if (arg[n] == '=') {
			cfg->values[k] = arg + n + 1;
			return 1;
		}
		if (arg[n] != '\0')
			continue;
		if (*i + 1 >= argc) {
			fprintf(stderr, "citydesk: %s needs a value\n", settings[k].flag);
			return -1;
		}
		cfg->values[k] = argv[++*i];
		return 1;
	}
	return 0;
}

void config_print_help(void)
{
	printf("Settings (flag, then environment, then default):\n");
	for (int k = 0; k < CFG_COUNT; k++)
		printf("  %-18s %-24s %s (default %s)\n", settings[k].flag, settings[k].env, settings[k].help,
		       settings[k].def);
}

const char *config_get(const struct config *cfg, enum config_key key)
{
	return cfg->values[key];
}

enum cd_err config_get_long(const struct config *cfg, enum config_key key, long min, long max, long *out)
{
	const char *s = cfg->values[key];
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "citydesk: %s must be a whole number from %ld to %ld, not \"%s\"\n",
			settings[key].flag, min, max, s);
		return CD_ERR_RANGE;
	}
	*out = v;
	return CD_OK;
}

enum cd_err config_db_path(const struct config *cfg, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/citydesk.db", cfg->values[CFG_DATA]);
	return n < 0 || (size_t)n >= cap ? CD_ERR_TOOBIG : CD_OK;
}

enum cd_err config_ensure_data_dir(const struct config *cfg)
{
	const char *dir = cfg->values[CFG_DATA];
	if (mkdir(dir, 0750) == 0 || errno == EEXIST)
		return CD_OK;
	fprintf(stderr, "citydesk: cannot create data directory %s: %s\n", dir, strerror(errno));
	return CD_ERR_IO;
}
