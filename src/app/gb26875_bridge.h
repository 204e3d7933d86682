/* The GB/T 26875.3 listener wired to the IoT hub (src/app/gb26875_bridge.c) and the mapping of
 * a decoded message to hub messages (src/app/gb26875_map.c). The protocol itself (codec,
 * listener) is net/gb26875.h. See docs/internals/gb26875.md. */
#ifndef CD_APP_GB26875_BRIDGE_H
#define CD_APP_GB26875_BRIDGE_H

#include <stddef.h>

#include "net/gb26875.h"
#include "util/err.h"

struct app;
struct iot_event;
struct iot_telemetry;
struct iot_status;

/* Starts a listener on config CFG_GB26875_LISTEN whose messages go to the hub
 * (iot_event_in, iot_telemetry_in, iot_status_in with IOT_SRC_GB26875) for the devices
 * iot_device_for_address names. The caller stops it with gb26875_bridge_stop. */
enum cd_err gb26875_bridge_start(struct app *app, struct gb_listener **out) CD_MUST_CHECK;
void gb26875_bridge_stop(struct gb_listener *l);
/* The listener gb26875_bridge_start started for app, or NULL (for the commands API). */
struct gb_listener *gb26875_bridge_listener(const struct app *app);

/* The mapping itself, without the hub, for tests: calls the given functions for each hub
 * message one frame gives (device is the registered id). Returns the number of messages. */
struct gb_bridge_sink {
	void (*telemetry)(void *ctx, const struct iot_telemetry *t);
	void (*event)(void *ctx, const struct iot_event *e);
	void (*status)(void *ctx, const struct iot_status *s);
	void *ctx;
};
size_t gb26875_bridge_map(const char *device, const struct gb_message *m, const struct gb_bridge_sink *sink);

#endif
