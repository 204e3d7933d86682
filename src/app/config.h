/* Settings for every subcommand: each comes from its flag, else its environment variable,
 * else its default, in that order. One table lists them all (see config.c). */
#ifndef CD_CONFIG_H
#define CD_CONFIG_H

#include <stddef.h>

#include "util/err.h"

enum config_key {
	CFG_LISTEN,        /* --listen, CITYDESK_LISTEN: HOST:PORT of the HTTP server */
	CFG_DATA,          /* --data, CITYDESK_DATA: the data directory (store, models) */
	CFG_DISTRICT,      /* --district, CITYDESK_DISTRICT: the default district's data set */
	CFG_SESSION_HOURS, /* --session-hours, CITYDESK_SESSION_HOURS: bearer token lifetime */
	CFG_THREADS,       /* --threads, CITYDESK_THREADS: HTTP worker threads, 0 = cores */
	CFG_CALENDAR,      /* --calendar, CITYDESK_CALENDAR: holiday-cn year files */
	CFG_CATEGORIES,    /* --categories, CITYDESK_CATEGORIES: category taxonomies and limits */
	CFG_WORK_HOURS,    /* --work-hours, CITYDESK_WORK_HOURS: working periods of a working day */
	CFG_MQTT_LISTEN,   /* --mqtt-listen, CITYDESK_MQTT_LISTEN: the supervised Mosquitto's HOST:PORT */
	CFG_MQTT_URL,      /* --mqtt-url, CITYDESK_MQTT_URL: an external broker (mqtt://user:pass@host:port) */
	CFG_GB26875_LISTEN, /* --gb26875-listen, CITYDESK_GB26875_LISTEN: fire-alarm transmitters' TCP */
	CFG_IOT,           /* --iot, CITYDESK_IOT: on|off: the broker, MQTT client and listeners */
	CFG_DEMO,          /* --demo, CITYDESK_DEMO: on|off: seed a year of history and run a simulator */
	CFG_DUP_AUTO_MERGE, /* --dup-auto-merge, CITYDESK_DUP_AUTO_MERGE: off, or a score 0..1 from which a
			       new case is merged into its duplicate automatically */
	CFG_WEB,           /* --web, CITYDESK_WEB: the browser console and residents' app (static files) */
	CFG_COUNT
};

struct config {
	const char *values[CFG_COUNT]; /* resolved values; point into argv, environ or defaults */
};

/* Fills cfg with the environment and defaults. */
void config_init(struct config *cfg);
/* If argv[*i] is one of the config flags ("--listen X" or "--listen=X"), stores it, advances
 * *i past its value and returns 1; returns 0 when it is not a config flag, and -1 when the
 * flag is missing its value (a message is printed). */
int config_take_flag(struct config *cfg, int argc, char **argv, int *i);
/* Prints the config flags with their environment names and defaults (for --help). */
void config_print_help(void);
const char *config_get(const struct config *cfg, enum config_key key);
/* The value as a whole number within [min, max]; CD_ERR_RANGE (with a message) otherwise. */
enum cd_err config_get_long(const struct config *cfg, enum config_key key, long min, long max,
			    long *out) CD_MUST_CHECK;
/* Writes "<data>/citydesk.db" into out. CD_ERR_TOOBIG if it does not fit. */
enum cd_err config_db_path(const struct config *cfg, char *out, size_t cap) CD_MUST_CHECK;
/* Creates the data directory when missing (one level). */
enum cd_err config_ensure_data_dir(const struct config *cfg) CD_MUST_CHECK;

#endif
