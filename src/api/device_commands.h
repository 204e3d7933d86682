/* POST /api/v1/devices/{id}/commands: the centre's commands to a GB/T 26875.3 fire-alarm
 * transmitter (duty check 查岗, clock sync), sent on its open connection. */
#ifndef CD_API_DEVICE_COMMANDS_H
#define CD_API_DEVICE_COMMANDS_H

#include "net/http.h"

/* {"command":"duty_check","minutes":1..255 (default 10)} or {"command":"clock_sync"}; admins
 * and dispatchers (a street dispatcher only for devices of that street). 202 with the frame's
 * serial; 404 unknown device; 409 when the device has no transmitter address
 * (not_gb26875), the listener is off (gb26875_off) or the transmitter is not connected
 * (not_connected); 422 for a bad body. Audited as "device.command". */
void api_device_commands(struct http_request *req, struct http_response *res, void *app);

#endif
