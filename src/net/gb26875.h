/* GB/T 26875.3-2011, the protocol fire-alarm user information transmission devices (UITD,
 * 用户信息传输装置) speak to a monitoring centre: a pure codec (streaming frame reader,
 * checksum, encoders, data-unit decoders) and the TCP listener's interface; the bridge that
 * hands decoded messages to the IoT hub is app/gb26875_bridge.h. No I/O in the codec. See
 * docs/internals/gb26875.md. */
#ifndef CD_GB26875_H
#define CD_GB26875_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define GB_ADDR_LEN 6	 /* a transmitter's or the centre's address, bytes */
#define GB_ADDR_HEX 13	 /* its lower-case hex form as on the wire, with NUL */
#define GB_TIME_LEN 6	 /* second minute hour day month year(00-99), binary */
#define GB_HEADER_LEN 27 /* "@@" through the command byte */
#define GB_OVERHEAD 30	 /* header + checksum + "##" */
#define GB_DATA_MAX 1024 /* the largest data unit the standard allows */
#define GB_FRAME_MAX (GB_OVERHEAD + GB_DATA_MAX)
#define GB_DESC_RAW 31	/* a component's description on the wire (GB 18030) */
#define GB_DESC_MAX 128 /* the same as UTF-8, with NUL (31 bytes can grow to 93) */

/* Commands (byte 26). 128-255 are vendor commands and are accepted. */
enum gb_cmd {
	GB_CMD_CONTROL = 1,  /* centre → device: do something (clock sync, duty check) */
	GB_CMD_SEND = 2,     /* device → centre: data; an empty one is a heartbeat */
	GB_CMD_ACK = 3,	     /* confirms a control or send frame (same serial) */
	GB_CMD_REQUEST = 4,  /* asks for data */
	GB_CMD_RESPONSE = 5, /* answers a request */
	GB_CMD_NAK = 6,	     /* refuses a bad frame (same serial) */
};

/* Data-unit types this codec knows. */
enum gb_type {
	GB_T_SYS_STATE = 1,	  /* building fire system state */
	GB_T_COMP_STATE = 2,	  /* component (detector, call point ...) state */
	GB_T_ANALOG = 3,	  /* component analog value */
	GB_T_SYS_OPERATION = 4,	  /* system operation record */
	GB_T_SYS_TIME = 8,	  /* system time */
	GB_T_UITD_STATE = 21,	  /* the transmitter's own state */
	GB_T_UITD_OPERATION = 24, /* the transmitter's operation record */
	GB_T_UITD_TIME = 28,	  /* the transmitter's clock */
	GB_T_CLOCK_SYNC = 90,	  /* centre → device: set your clock */
	GB_T_DUTY_CHECK = 91,	  /* centre → device: 查岗, answer within N minutes */
};

/* Status bits of a system (type 1). Component states (type 2) use bits 0-8 the same way. */
enum {
	GB_ST_NORMAL = 1u << 0, /* 1 normal, 0 test */
	GB_ST_FIRE = 1u << 1,
	GB_ST_FAULT = 1u << 2,
	GB_ST_DISABLED = 1u << 3,
	GB_ST_SUPERVISORY = 1u << 4,
	GB_ST_STARTED = 1u << 5,
	GB_ST_FEEDBACK = 1u << 6,
	GB_ST_DELAY = 1u << 7,
	GB_ST_MAIN_POWER = 1u << 8, /* system: main power fault; component: power fault */
	GB_ST_BACKUP_POWER = 1u << 9,
	GB_ST_BUS_FAULT = 1u << 10,
	GB_ST_MANUAL = 1u << 11,
	GB_ST_CONFIG_CHANGED = 1u << 12,
	GB_ST_RESET = 1u << 13,
};

/* Status bits of the transmitter itself (type 21). */
enum {
	GB_UITD_NORMAL = 1u << 0,
	GB_UITD_FIRE = 1u << 1,
	GB_UITD_FAULT = 1u << 2,
	GB_UITD_MAIN_POWER = 1u << 3,
	GB_UITD_BACKUP_POWER = 1u << 4,
	GB_UITD_LINK_FAULT = 1u << 5, /* link to the monitoring centre */
	GB_UITD_LINE_FAULT = 1u << 6, /* monitoring line */
};

/* One frame, decoded from the wire or about to be encoded. */
struct gb_frame {
	uint16_t serial;	   /* the initiator increments it, the responder echoes it */
	uint8_t version[2];	   /* main, user; any value is accepted */
	uint8_t time[GB_TIME_LEN]; /* the sender's clock (see gb_time_to_ms) */
	uint8_t src[GB_ADDR_LEN];  /* sender */
	uint8_t dst[GB_ADDR_LEN];  /* receiver */
	uint8_t cmd;		   /* enum gb_cmd or a vendor command */
	uint16_t len;		   /* bytes used in data, <= GB_DATA_MAX */
	uint8_t data[GB_DATA_MAX]; /* the data unit */
};

/* What gb_reader_next found. */
enum gb_status {
	GB_NEED_MORE = 0, /* no complete frame buffered; feed more bytes */
	GB_FRAME_OK,	  /* a good frame */
	GB_BAD_CHECKSUM,  /* header and end fine, checksum wrong: the frame is dropped */
	GB_BAD_END,	  /* no "##" where the length says: dropped from the "@@" on, resynced */
	GB_BAD_LENGTH,	  /* data unit over GB_DATA_MAX: dropped from the "@@" on, resynced */
	GB_BAD_COMMAND,	  /* command 0 or 7-127: the frame is dropped */
	GB_BAD_TRUNCATED, /* gb_reader_expire gave up on a frame that never completed */
};

/* A streaming frame reader for one connection: bytes go in in any split, frames come out.
 * Its buffer is one largest frame, so a connection can never make it grow. */
struct gb_reader {
	uint8_t buf[GB_FRAME_MAX]; /* bytes not yet consumed, starting at a candidate "@@" */
	size_t len;		   /* bytes in buf */
	uint64_t frames;	   /* good frames returned */
	uint64_t bad;		   /* bad frames returned */
	uint64_t garbage;	   /* bytes skipped while looking for "@@" */
};

/* Prepares an empty reader. */
void gb_reader_init(struct gb_reader *r);
/* Copies as many of the n bytes as the buffer has room for and returns how many it took
 * (0 only when n is 0 or a whole frame is waiting: call gb_reader_next first). */
size_t gb_reader_feed(struct gb_reader *r, const uint8_t *in, size_t n);
/* Takes the next result from the buffered bytes. GB_FRAME_OK fills *out fully. The GB_BAD_*
 * results fill the header fields of *out (serial, version, time, src, dst, cmd; len 0) so the
 * caller can send a NAK, and drop the bad bytes. Call until it returns GB_NEED_MORE. */
enum gb_status gb_reader_next(struct gb_reader *r, struct gb_frame *out);
/* True when bytes of an unfinished frame are buffered. */
bool gb_reader_pending(const struct gb_reader *r);
/* Gives up on the unfinished frame at the front of the buffer (the caller decides it waited
 * too long: a device was cut off mid-frame, or a false "@@" announced a length that is not
 * coming): drops its first byte, so gb_reader_next resyncs on the bytes after it. Returns
 * GB_BAD_TRUNCATED with the header in *out when r->len was at least GB_HEADER_LEN (else the
 * header fields are zero), or GB_NEED_MORE when nothing was pending. */
enum gb_status gb_reader_expire(struct gb_reader *r, struct gb_frame *out);
/* A short English name for st ("ok", "bad_checksum" ...). */
const char *gb_status_name(enum gb_status st);

/* The checksum of a frame's bytes 2..26 and data unit: the sum mod 256 of n bytes. */
uint8_t gb_checksum(const uint8_t *p, size_t n);
/* Writes f as a complete frame into out (cap bytes) and its length into *n.
 * CD_ERR_RANGE when f->len > GB_DATA_MAX, CD_ERR_TOOBIG when cap is too small. */
enum cd_err gb_frame_encode(const struct gb_frame *f, uint8_t *out, size_t cap, size_t *n) CD_MUST_CHECK;
/* Fills *out as the ACK (cmd 3) or NAK (cmd 6) of `in`: the same serial and version, the
 * addresses swapped, `time` as the centre's clock, an empty data unit. */
void gb_frame_ack(const struct gb_frame *in, const uint8_t time[GB_TIME_LEN], struct gb_frame *out);
void gb_frame_nak(const struct gb_frame *in, const uint8_t time[GB_TIME_LEN], struct gb_frame *out);
/* Fills *out as a control frame (cmd 1) from `src` (the centre) to `dst`: a duty check (type
 * 91, answer within `minutes`, 1..255) or a clock sync (type 90 carrying `set_to`). Version
 * 1.1 unless the caller changes it afterwards. */
void gb_frame_duty_check(uint16_t serial, const uint8_t src[GB_ADDR_LEN], const uint8_t dst[GB_ADDR_LEN],
			 const uint8_t time[GB_TIME_LEN], uint8_t minutes, struct gb_frame *out);
void gb_frame_clock_sync(uint16_t serial, const uint8_t src[GB_ADDR_LEN], const uint8_t dst[GB_ADDR_LEN],
			 const uint8_t time[GB_TIME_LEN], const uint8_t set_to[GB_TIME_LEN],
			 struct gb_frame *out);

/* The protocol's clock is Beijing time (UTC+8), years 2000-2099. gb_time_to_ms returns unix
 * milliseconds, or false when a field is out of range (then the caller uses its own clock). */
bool gb_time_to_ms(const uint8_t t[GB_TIME_LEN], int64_t *out_ms);
/* The wire form of unix milliseconds (clamped to 2000-2099). */
void gb_time_from_ms(int64_t ms, uint8_t out[GB_TIME_LEN]);
/* An address as 12 lower-case hex digits, in wire order ("790300000000"). */
void gb_addr_hex(const uint8_t a[GB_ADDR_LEN], char out[GB_ADDR_HEX]);
/* Parses 12 hex digits (either case) into an address; false when malformed. */
bool gb_addr_parse(const char *hex, uint8_t out[GB_ADDR_LEN]);

/* A data unit: type (1) + count (1) + count fixed-size objects. */
struct gb_unit {
	uint8_t type;	     /* enum gb_type or another */
	uint8_t count;	     /* objects */
	size_t obj_size;     /* bytes per object (0 for a type this codec does not decode) */
	const uint8_t *data; /* the objects (borrowed from the frame) */
	size_t len;	     /* bytes at data */
};

/* One decoded object. Times are unix ms from the object's time tag, or 0 when it had none or
 * an impossible one. */
struct gb_object {
	uint8_t type; /* which member of the union is set */
	union {
		struct { /* GB_T_SYS_STATE */
			uint8_t sys_type, sys_addr;
			uint16_t status; /* GB_ST_* bits */
		} sys;
		struct { /* GB_T_COMP_STATE */
			uint8_t sys_type, sys_addr, comp_type;
			uint16_t zone, position; /* the 4-byte component address: zone, position */
			uint16_t status;	 /* GB_ST_* bits 0-8 */
			char desc[GB_DESC_MAX];	 /* the description as UTF-8, trimmed */
		} comp;
		struct { /* GB_T_ANALOG */
			uint8_t sys_type, sys_addr, comp_type;
			uint16_t zone, position;
			uint8_t kind;	    /* analog type: 3 temperature, 4/5 pressure, 6 gas ... */
			int16_t raw;	    /* the value as sent */
			double value;	    /* in the unit of `metric` */
			const char *metric; /* "temperature_c", "pressure_mpa" ... (static string) */
		} analog;
		struct {			    /* GB_T_SYS_OPERATION, GB_T_UITD_OPERATION */
			uint8_t sys_type, sys_addr; /* 0 for the transmitter's own */
			uint8_t flags, operator_id;
		} op;
		struct {		/* GB_T_UITD_STATE */
			uint8_t status; /* GB_UITD_* bits */
		} uitd;
		struct { /* GB_T_SYS_TIME (sys_* set), GB_T_UITD_TIME, GB_T_CLOCK_SYNC */
			uint8_t sys_type, sys_addr;
			uint8_t clock[GB_TIME_LEN]; /* as sent */
		} time;
		struct {		 /* GB_T_DUTY_CHECK */
			uint8_t minutes; /* the operator must answer within */
		} duty;
	} u;
	int64_t ts_ms; /* the time tag, or the clock carried by 8, 28 and 90 */
};

/* Checks a data unit's shape. CD_OK with *out set when the type is known and the length is
 * exactly 2 + count * object size; CD_ERR_NOTFOUND (with type and count set, obj_size 0) for
 * a type this codec does not decode; CD_ERR_INVALID when a known type has the wrong length
 * or the unit is shorter than 2 bytes. */
enum cd_err gb_unit_parse(const uint8_t *data, size_t len, struct gb_unit *out) CD_MUST_CHECK;
/* Decodes object i (< u->count) of a unit gb_unit_parse accepted. A GB 18030 description
 * that does not convert keeps what converted, with U+FFFD for each bad byte. */
enum cd_err gb_unit_object(const struct gb_unit *u, size_t i, struct gb_object *out) CD_MUST_CHECK;
/* Converts n bytes of GB 18030 (stops at the first NUL; trailing spaces trimmed) to UTF-8 in
 * out (cap bytes, always NUL-terminated, truncated at a character boundary when full). */
void gb_gb18030_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap);
/* The metric name and scale (the value of one step) of an analog type; false for an unknown
 * type (then the metric is "analog" and the scale 1). */
bool gb_analog_metric(uint8_t kind, const char **metric, double *scale);

/* ---- The TCP listener (src/net/gb26875_listener.c) ---- */

struct gb_listener;

/* What the listener tells its owner. */
enum gb_msg_kind {
	GB_MSG_DATA,	/* a good send-data frame (ACKed when taken, else NAKed); len 0 is a heartbeat */
	GB_MSG_REPLY,	/* a device's ACK/NAK/response to a centre command (frame->cmd says which) */
	GB_MSG_OFFLINE, /* nothing from this address for the idle timeout (frame is NULL) */
};

struct gb_message {
	enum gb_msg_kind kind;
	char addr[GB_ADDR_HEX];	      /* the transmitter's address (the frame's source) */
	int64_t recv_ms;	      /* when it arrived (unix ms) */
	const struct gb_frame *frame; /* borrowed for the call; NULL for GB_MSG_OFFLINE */
	bool first;		      /* the first frame from this address since start or offline */
};

/* Called on the listener's thread for each message; must not call the gb_listener_* functions
 * (the listener's lock is held). For GB_MSG_DATA the frame is answered after the call: ACK when
 * it returns CD_OK (the message is taken: durable in the hub), NAK otherwise, so the
 * transmitter sends it again. The return is ignored for the other kinds. */
typedef enum cd_err (*gb_message_fn)(void *ctx, const struct gb_message *m);
/* Called on the listener's thread for each good frame before it is answered: true when the
 * transmitter at addr (12 lower-case hex digits) is one the centre serves. A refused address
 * gets a NAK, is counted and listed in the stats, and is neither tracked nor reported. Same
 * rules as gb_message_fn. */
typedef bool (*gb_admit_fn)(void *ctx, const char *addr);

#define GB_MAX_CONNECTIONS 4096 /* default max_connections (before the RLIMIT_NOFILE cap) */
#define GB_PER_HOST_MAX 64	/* default max_per_host: connections from one remote IP */
#define GB_TAKEOVER_MS 45000	/* default takeover_ms: 1.5 x the longest heartbeat interval */
#define GB_ANON_EVICT_MS 10000	/* default anon_evict_ms */
#define GB_UNKNOWN_KEEP 8	/* refused (unregistered) addresses listed in the stats */

struct gb_listener_config {
	const char *listen;	  /* "HOST:PORT", "[v6]:PORT"; port 0 picks a free one */
	gb_message_fn on_message; /* may be NULL */
	gb_admit_fn admit;	  /* may be NULL: every address is admitted */
	void *ctx;		  /* passed to on_message and admit */
	int idle_timeout_ms;	  /* close a silent connection, report its address offline (90 s) */
	int frame_timeout_ms;	  /* give up on a frame that stops half way (5 s) */
	int takeover_ms;	  /* an address silent this long on its connection may move to another */
	size_t max_connections;	  /* more are refused; lowered to gb_listener_fd_cap() at start */
	size_t max_per_host;	  /* connections from one remote IP address; more are refused */
	int anon_evict_ms;	  /* when full, the oldest connection with no accepted frame for this
				     long is closed to make room for a new one (10 s) */
	bool nak_undecodable;	  /* NAK a send frame whose known data unit is malformed (true) */
};

/* Counters, for /metrics and tests. */
struct gb_listener_stats {
	uint64_t connections;	 /* accepted since start */
	uint64_t open;		 /* connected now */
	uint64_t frames;	 /* good frames */
	uint64_t bad_frames;	 /* refused by the reader (NAKed when they had a header) */
	uint64_t undecodable;	 /* good frames whose data unit did not decode */
	uint64_t garbage_bytes;	 /* skipped while resynchronising */
	uint64_t acks, naks;	 /* sent */
	uint64_t not_taken;	 /* data frames on_message did not take (NAKed: the device resends) */
	uint64_t refused;	 /* connections over max_connections */
	uint64_t evicted;	 /* anonymous connections closed to make room (anon_evict_ms) */
	uint64_t timeouts;	 /* connections closed for silence */
	uint64_t truncated;	 /* unfinished frames given up after frame_timeout_ms */
	uint64_t closed_garbage; /* connections closed for sending nothing but bad bytes */
	uint64_t offline;	 /* addresses reported offline */
	uint64_t refused_host;	 /* connections over max_per_host */
	uint64_t accept_pauses;	 /* times accepting stopped for a second (out of file descriptors) */
	uint64_t conflicts;	 /* frames refused: their address belongs to another live connection */
	uint64_t unknown;	 /* frames refused: admit said no (an unregistered address) */
	char unknown_addrs[GB_UNKNOWN_KEEP][GB_ADDR_HEX]; /* the latest refused, newest first ("" unused) */
	uint64_t max_connections; /* the limit in force (after the RLIMIT_NOFILE cap) */
};

/* Zeroes cfg and sets the defaults above (listen, on_message, admit and ctx stay NULL). */
void gb_listener_config_init(struct gb_listener_config *cfg);
/* The most connections the listener keeps open under a file-descriptor limit of nofile (the
 * soft RLIMIT_NOFILE): three eighths of it (at least 1), so HTTP, SQLite, the broker and the
 * rest keep five eighths. gb_listener_start lowers max_connections to it. */
size_t gb_listener_fd_cap(uint64_t nofile);
/* Binds, listens and starts the listener's thread. CD_ERR_INVALID for a malformed listen
 * address, CD_ERR_IO when binding fails (logged). The caller frees with gb_listener_stop. */
enum cd_err gb_listener_start(const struct gb_listener_config *cfg, struct gb_listener **out) CD_MUST_CHECK;
/* The TCP port it listens on (the real one when 0 was asked for). */
int gb_listener_port(const struct gb_listener *l);
/* Stops the thread, closes every connection and frees l. NULL is fine. */
void gb_listener_stop(struct gb_listener *l);
/* Sends a duty check (查岗, answer within minutes 1..255) or a clock sync (the centre's clock
 * now) to the transmitter at addr (12 hex digits) on its current connection. Thread-safe.
 * CD_ERR_INVALID for a malformed address or minutes, CD_ERR_NOTFOUND when that transmitter is
 * not connected, CD_ERR_IO when the connection fails while writing. *serial (may be NULL)
 * receives the frame's serial number. */
enum cd_err gb_listener_duty_check(struct gb_listener *l, const char *addr, unsigned minutes,
				   uint16_t *serial) CD_MUST_CHECK;
enum cd_err gb_listener_clock_sync(struct gb_listener *l, const char *addr, uint16_t *serial) CD_MUST_CHECK;
/* True when the transmitter at addr has a connection now; *last_seen_ms (may be NULL) gets
 * the last time a frame came from it (0 when never). Thread-safe. */
bool gb_listener_connected(struct gb_listener *l, const char *addr, int64_t *last_seen_ms);
/* A copy of the counters. Thread-safe. */
void gb_listener_stats(struct gb_listener *l, struct gb_listener_stats *out);

#endif
