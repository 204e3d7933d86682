/* `citydesk serve`: opens the store (loading the default district into an empty one),
 * builds the map, serves HTTP until SIGTERM or SIGINT, then drains requests in flight,
 * checkpoints the store and exits 0. Imports made by other processes are picked up by
 * polling the store's map version once a second. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/open311.h"
#include "app/casework.h"
#include "app/categories.h"
#include "app/commit_queue.h"
#include "app/alerts.h"
#include "app/automerge.h"
#include "app/demo.h"
#include "app/events.h"
#include "app/iot.h"
#include "app/district.h"
#include "app/mapview.h"
#include "app/webhooks.h"
#include "core/calendar.h"
#include "core/category.h"
#include "core/classify.h"
#include "core/classify_kw.h"
#include "core/similar.h"
#include "core/text.h"
#include "util/alloc.h"
#include "util/csv.h"
#include "cli/cli.h"
#include "util/log.h"

static const char usage[] =
	"usage: citydesk serve [--listen HOST:PORT] [--data DIR] [--district DIR] [--threads N]\n"
	"Serves the HTTP API. An empty data directory gets a new store with the default district\n"
	"(data/luohu) and no accounts: add one with `citydesk user add`.\n";

/* Loads the default district when the store has none yet. */
static enum cd_err ensure_district(struct app *app)
{
	char loaded[32];
	enum cd_err rc = store_meta_get(app->st, "district_loaded", loaded, sizeof loaded);
	if (rc != CD_ERR_NOTFOUND)
		return rc;
	struct store_actor actor = {"system", ""};
	char reason[512] = "";
	rc = district_load_default(app->st, &actor, config_get(&app->cfg, CFG_DISTRICT), reason, sizeof reason);
	if (rc) {
		fprintf(stderr, "citydesk serve: cannot load the district from %s: %s\n",
			config_get(&app->cfg, CFG_DISTRICT), reason);
		return rc;
	}
	log_info("default district loaded", "\"from\":\"%s\"", config_get(&app->cfg, CFG_DISTRICT));
	return CD_OK;
}

/* Loads the working-day calendar, the category tree and its classifier. */
static enum cd_err load_services(struct app *app)
{
	char reason[512] = "";
	struct cal_span spans[CAL_MAX_SPANS];
	size_t nspans = 0;
	app->cal = cal_new();
	enum cd_err rc = cal_load_dir(app->cal, config_get(&app->cfg, CFG_CALENDAR), reason, sizeof reason);
	if (!rc)
		rc = cal_parse_hours(config_get(&app->cfg, CFG_WORK_HOURS), spans, CAL_MAX_SPANS, &nspans, reason,
				     sizeof reason);
	if (!rc)
		rc = cal_set_hours(app->cal, spans, nspans, reason, sizeof reason);
	if (rc) {
		fprintf(stderr, "citydesk serve: calendar: %s\n", reason);
		return rc;
	}
	api_open311_configure(config_get(&app->cfg, CFG_CATEGORIES));
	rc = categories_load(&app->cfg, &app->cats, reason, sizeof reason);
	if (rc) {
		fprintf(stderr, "citydesk serve: %s\n", reason);
		return rc;
	}
	/* Open OpenCC now (about 100 ms) rather than on the first report. */
	struct text_norm *tn;
	rc = text_norm_shared(&tn);
	if (rc) {
		fprintf(stderr, "citydesk serve: cannot open OpenCC (hk2s): %s\n", cd_err_name(rc));
		return rc;
	}
	/* The trained model, when `citydesk train` has made one; keywords otherwise. */
	char model_path[4200];
	snprintf(model_path, sizeof model_path, "%.4000s/%s", config_get(&app->cfg, CFG_DATA), CLASSIFY_MODEL_FILE);
	if (access(model_path, R_OK) == 0) {
		rc = classify_model_load(model_path, &app->model);
		if (rc) {
			fprintf(stderr, "citydesk serve: cannot load the model %s: %s\n", model_path, cd_err_name(rc));
			return rc;
		}
		log_info("category model loaded", "\"path\":\"%s\"", model_path);
	}
	rc = classify_kw_new(app->cats, &app->classifier);
	if (rc)
		fprintf(stderr, "citydesk serve: cannot build the keyword classifier: %s\n", cd_err_name(rc));
	return rc;
}

/* Rebuilds the map when another process (citydesk import) changed it. */
static void reload_map_if_changed(struct app *app)
{
	char version[32] = "";
	if (store_meta_get(app->st, "map_version", version, sizeof version) || strcmp(version, app->map_version) == 0)
		return;
	struct mapview *fresh = NULL;
	enum cd_err rc = mapview_load(app->st, &fresh);
	if (rc) {
		log_error("map reload failed", "\"error\":\"%s\"", cd_err_name(rc));
		snprintf(app->map_version, sizeof app->map_version, "%s", version); /* do not retry every second */
		return;
	}
	pthread_rwlock_wrlock(&app->map_lock);
	struct mapview *old = app->map;
	app->map = fresh;
	snprintf(app->map_version, sizeof app->map_version, "%s", version);
	pthread_rwlock_unlock(&app->map_lock);
	mapview_free(old);
	log_info("map reloaded", "\"map_version\":\"%s\"", version);
}

/* Waits for SIGTERM or SIGINT, polling for map changes once a second. */
static int wait_for_signal(struct app *app, const sigset_t *signals)
{
	for (;;) {
		struct timespec tick = {1, 0};
		int sig = sigtimedwait(signals, NULL, &tick);
		if (sig > 0)
			return sig;
		if (errno == EAGAIN || errno == EINTR) {
			reload_map_if_changed(app);
			casework_mark_due(app, (int64_t)time(NULL));
			if (app->similar && time(NULL) % 60 == 0) {
				struct similar_config sc;
				similar_get_config(app->similar, &sc);
				similar_evict(app->similar, (int64_t)time(NULL) - sc.window_s);
			}
		}
	}
}

/* Raises the soft limit on open files to the hard one: every HTTP client, transmitter and
 * device connection is a descriptor, and the usual soft default (1,024) caps the GB/T 26875.3
 * listener at 384 transmitters. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			log_info("open-file limit raised", "\"from\":%llu,\"to\":%llu", (unsigned long long)was,
				 (unsigned long long)rl.rlim_cur);
	}
}

int cli_serve(int argc, char **argv)
{
	struct app app;
	memset(&app, 0, sizeof app);
	config_init(&app.cfg);
	if (cli_wants_help(argc, argv)) {
		printf("%s\n", usage);
		config_print_help();
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		int taken = config_take_flag(&app.cfg, argc, argv, &i);
		if (taken < 0)
			return 2;
		if (!taken) {
			fprintf(stderr, "citydesk serve: unknown option %s\n%s", argv[i], usage);
			return 2;
		}
	}
	long hours, threads;
	if (config_get_long(&app.cfg, CFG_SESSION_HOURS, 1, 24 * 30, &hours) ||
	    config_get_long(&app.cfg, CFG_THREADS, 0, 256, &threads))
		return 2;
	app.session_seconds = hours * 3600;
	raise_fd_limit();
	app.started_at = (int64_t)time(NULL);

	/* Block the stop signals before any thread starts, so only sigtimedwait sees them. */
	sigset_t signals;
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	int status = 1;
	struct http_server *srv = NULL;
	struct demo *demo = NULL;
	if (auth_init()) {
		fprintf(stderr, "citydesk serve: libsodium failed to initialise\n");
		return 1;
	}
	pthread_rwlock_init(&app.map_lock, NULL);
	app.limiter = auth_limiter_new(4096);
	if (cli_open_store(&app.cfg, &app.st) || ensure_district(&app))
		goto out;
	if (store_meta_get(app.st, "map_version", app.map_version, sizeof app.map_version))
		app.map_version[0] = '\0';
	enum cd_err rc = mapview_load(app.st, &app.map);
	if (rc) {
		fprintf(stderr, "citydesk serve: cannot build the map from the store: %s\n", cd_err_name(rc));
		goto out;
	}
	if (load_services(&app) || commit_queue_start(app.st, &app.intake))
		goto out;
	app.similar = similar_new(NULL);
	size_t recent = 0;
	rc = api_similar_load(app.st, (int64_t)time(NULL), app.similar, &recent);
	if (rc) {
		fprintf(stderr, "citydesk serve: cannot load recent cases for the duplicate finder: %s\n", cd_err_name(rc));
		goto out;
	}
	log_info("duplicate finder loaded", "\"cases\":%zu", recent);
	app.events = events_new(NULL);
	char db_path[4096];
	if (config_db_path(&app.cfg, db_path, sizeof db_path) ||
	    webhooks_start(db_path, app.events, NULL, &app.webhooks))
		goto out;
	if (iot_start(&app) || alerts_load_default_rules(&app, config_get(&app.cfg, CFG_DISTRICT)))
		goto out;
	struct http_config hc = {
		.listen = config_get(&app.cfg, CFG_LISTEN),
		.routes = api_routes,
		.n_routes = api_routes_count,
		.app_ctx = &app,
		.threads = (unsigned)threads,
		.access_log = -1,
		.metrics_hook = api_metrics,
	};
	rc = http_server_start(&hc, &srv);
	if (rc) {
		fprintf(stderr, "citydesk serve: cannot listen on %s: %s\n", hc.listen, cd_err_name(rc));
		goto out;
	}
	log_info("serving", "\"url\":\"http://%s\",\"port\":%u,\"data\":\"%s\"", hc.listen, http_server_port(srv),
		 config_get(&app.cfg, CFG_DATA));
	if (demo_start(&app, &demo)) /* reads CITYDESK_DEMO: off starts nothing */
		goto out;
	int sig = wait_for_signal(&app, &signals);
	demo_stop(demo);
	demo = NULL;
	log_info("stopping", "\"signal\":%d,\"in_flight\":%u", sig, http_server_in_flight(srv));
	http_server_stop(srv);
	srv = NULL;
	/* Every acknowledged case into the database, then the WAL into the database file. */
	iot_stop(&app); /* alerts open cases through intake: before the intake writer stops */
	commit_queue_stop(app.intake);
	app.intake = NULL;
	if (store_checkpoint(app.st))
		log_warn("checkpoint failed", NULL);
	status = 0;
out:
	demo_stop(demo);
	http_server_stop(srv);
	iot_stop(&app);
	commit_queue_stop(app.intake);
	automerge_stop(); /* its merges use the store and the duplicate finder: before both go */
	similar_free(app.similar); /* after the server and the intake writer stopped */
	webhooks_stop(app.webhooks); /* before events_free: it unsubscribes from the bus */
	events_free(app.events); /* after http_server_stop: no stream unsubscribes any more */
	classify_kw_free(app.classifier);
	classify_model_free(app.model);
	category_tree_free(app.cats);
	cal_free(app.cal);
	mapview_free(app.map);
	store_close(app.st);
	auth_limiter_free(app.limiter);
	pthread_rwlock_destroy(&app.map_lock);
	if (status == 0)
		log_info("stopped", NULL);
	return status;
}
