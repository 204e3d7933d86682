/* The GB/T 26875.3 listener wired to the IoT hub: only transmitters whose address is
 * registered (iot_device_for_address) are admitted, the others are NAKed by the listener; each
 * decoded message is mapped (gb26875_map.c) for the registered device and handed to iot_*_in;
 * the listener ACKs a frame only when the hub took all of it (durable), and NAKs it otherwise.
 * Also remembers which listener serves which app, for the commands API. */
#include <pthread.h>
#include <time.h>

#include "app/app.h"
#include "app/config.h"
#include "app/devices.h"
#include "app/gb26875_bridge.h"
#include "app/iot.h"
#include "net/gb26875.h"
#include "util/alloc.h"
#include "util/log.h"

struct bridge {
	struct app *app;
	struct gb_listener *listener;
	int64_t gone_logged_s; /* last "device removed" line (listener thread only) */
};

/* The running bridges (a server has one; tests may start several apps in one process). */
#define MAX_BRIDGES 8
static pthread_mutex_t bridges_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bridge *bridges[MAX_BRIDGES];

/* One frame's trip to the hub: the app, and the first refusal (the frame's later messages are
 * then not sent: the frame is NAKed and comes again whole). */
struct delivery {
	struct app *app;
	enum cd_err rc;
};

static void hub_telemetry(void *ctx, const struct iot_telemetry *t)
{
	struct delivery *d = ctx;
	if (!d->rc)
		d->rc = iot_telemetry_in(d->app, IOT_SRC_GB26875, t);
}

static void hub_event(void *ctx, const struct iot_event *e)
{
	struct delivery *d = ctx;
	if (!d->rc)
		d->rc = iot_event_in(d->app, IOT_SRC_GB26875, e);
}

static void hub_status(void *ctx, const struct iot_status *s)
{
	struct delivery *d = ctx;
	if (!d->rc)
		d->rc = iot_status_in(d->app, IOT_SRC_GB26875, s);
}

/* A frame from an address no active device is registered for is refused with a NAK (the
 * listener counts it and lists the address in its stats): the device retries, and a
 * transmitter registered under a wrong address, or decommissioned, shows up in the logs and
 * the listener's counters instead of its alarms being ACKed and then dropped by the hub. */
static bool admit(void *ctx, const char *addr)
{
	struct bridge *b = ctx;
	char device[IOT_ID_MAX];
	struct iot_device dev;
	return iot_device_for_address(b->app, addr, device) && devices_get(b->app->devices, device, &dev) &&
	       dev.active;
}

/* CD_OK when the hub took every message of the frame (journalled durably: the listener may
 * ACK), else the hub's error (the listener NAKs and the transmitter sends the frame again; the
 * messages taken before the refusal then come twice, which the hub's stores tolerate better
 * than a lost alarm). */
static enum cd_err on_message(void *ctx, const struct gb_message *m)
{
	struct bridge *b = ctx;
	char device[IOT_ID_MAX];
	if (!iot_device_for_address(b->app, m->addr, device)) {
		/* Admitted a moment ago, removed since (or an offline report after removal). */
		int64_t now = (int64_t)time(NULL);
		if (now - b->gone_logged_s >= 60) {
			b->gone_logged_s = now;
			log_msg(LOG_INFO, "gb26875 message for a device removed meanwhile dropped",
				"\"address\":\"%s\"", m->addr);
		}
		return CD_OK; /* nobody to give it to: resending would not help */
	}
	struct delivery d = {b->app, CD_OK};
	struct gb_bridge_sink sink = {hub_telemetry, hub_event, hub_status, &d};
	(void)gb26875_bridge_map(device, m, &sink);
	return d.rc;
}

enum cd_err gb26875_bridge_start(struct app *app, struct gb_listener **out)
{
	*out = NULL;
	struct bridge *b = xcalloc(1, sizeof *b);
	b->app = app;
	struct gb_listener_config cfg;
	gb_listener_config_init(&cfg);
	cfg.listen = config_get(&app->cfg, CFG_GB26875_LISTEN);
	cfg.on_message = on_message;
	cfg.admit = admit;
	cfg.ctx = b;
	enum cd_err rc = gb_listener_start(&cfg, &b->listener);
	if (rc) {
		xfree(b);
		return rc;
	}
	pthread_mutex_lock(&bridges_lock);
	size_t i = 0;
	while (i < MAX_BRIDGES && bridges[i])
		i++;
	if (i < MAX_BRIDGES)
		bridges[i] = b;
	pthread_mutex_unlock(&bridges_lock);
	if (i == MAX_BRIDGES) {
		log_msg(LOG_ERROR, "gb26875 too many bridges in one process", "\"max\":%d", MAX_BRIDGES);
		gb_listener_stop(b->listener);
		xfree(b);
		return CD_ERR_BUSY;
	}
	*out = b->listener;
	return CD_OK;
}

void gb26875_bridge_stop(struct gb_listener *l)
{
	if (!l)
		return;
	struct bridge *b = NULL;
	pthread_mutex_lock(&bridges_lock);
	for (size_t i = 0; i < MAX_BRIDGES; i++) {
		if (bridges[i] && bridges[i]->listener == l) {
			b = bridges[i];
			bridges[i] = NULL;
		}
	}
	pthread_mutex_unlock(&bridges_lock);
	/* The listener's thread uses b until it is stopped. */
	gb_listener_stop(l);
	xfree(b);
}

struct gb_listener *gb26875_bridge_listener(const struct app *app)
{
	struct gb_listener *l = NULL;
	pthread_mutex_lock(&bridges_lock);
	for (size_t i = 0; i < MAX_BRIDGES && !l; i++)
		if (bridges[i] && bridges[i]->app == app)
			l = bridges[i]->listener;
	pthread_mutex_unlock(&bridges_lock);
	return l;
}
