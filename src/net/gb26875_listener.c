/* The GB/T 26875.3 TCP listener: one thread, one epoll set, non-blocking sockets. Each
 * connection has a fixed-size frame reader and a capped output queue; good send-data frames
 * are ACKed, bad frames NAKed, and every transmitter address is tracked (last seen, the one
 * connection it is pinned to, the centre address it uses) so the centre can send duty checks
 * and clock syncs. Connections are capped in total (to fit the file-descriptor limit) and per
 * remote host; running out of descriptors pauses accepting instead of spinning. */
#include "net/gb26875.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define OUT_CAP (64 * 1024)	  /* a connection's unsent replies; past it the connection closes */
#define OUT_PAUSE (16 * 1024)	  /* stop reading a connection while this much is unsent */
#define READ_BUDGET (64 * 1024)	  /* bytes read from one connection per wake-up, for fairness */
#define GARBAGE_LIMIT (16 * 1024) /* bad bytes without a good frame before the connection closes */
#define NAKS_PER_SECOND 8	  /* more NAKs to one connection are counted, not sent */
#define MAX_STATIONS 65536	  /* transmitter addresses tracked; more are served untracked */
#define ACCEPT_BUDGET 256	  /* connections accepted per wake-up, for fairness */
#define ACCEPT_PAUSE_MS 1000	  /* accepting stops this long when descriptors run out */
#define RATELOG_MS 10000	  /* at most one log line this often for each kind of trouble */

/* One log line per RATELOG_MS for one kind of event; the lines in between are counted. */
struct ratelog {
	bool used;	     /* a line was written */
	int64_t last_mono;   /* when */
	uint64_t suppressed; /* events not logged since */
};

struct conn {
	int fd;
	struct gb_reader rd; /* frames in */
	uint8_t *out;	     /* replies not yet written (out_off..out_len) */
	size_t out_len, out_off, out_alloc;
	int64_t opened_mono;  /* when it was accepted */
	int64_t last_rx_mono; /* for the idle timeout */
	int64_t pending_mono; /* since when an unfinished frame waits (0 = none) */
	size_t bad_bytes;     /* garbage and bad frames since the last good frame */
	int64_t nak_window;   /* the second NAKs are being counted in */
	unsigned naks_in_window;
	bool reading;  /* EPOLLIN is in the interest set */
	bool dead;     /* closed at the end of this round */
	uint64_t key;  /* the first transmitter address seen on it (0 = none yet) */
	bool multi;    /* more than one address (a gateway): closing scans the stations */
	uint8_t host[16]; /* the peer's IP (IPv4 as ::ffff:a.b.c.d), for max_per_host */
	char peer[64];	  /* "ip:port", for logs */
};

/* A transmitter address seen on some connection. */
struct station {
	uint64_t key;		     /* the 6 address bytes + 1 (0 = empty slot) */
	struct conn *conn;	     /* the connection it is pinned to, or NULL */
	uint8_t centre[GB_ADDR_LEN]; /* the destination it sends to: our address, as it knows it */
	int64_t last_seen_ms;	     /* unix ms of its last good frame */
	int64_t last_seen_mono;
	bool online; /* reported online (first frame) and not yet offline */
};

struct gb_listener {
	struct gb_listener_config cfg;
	int lfd, efd, ep; /* listening socket, wake-up eventfd, epoll */
	int port;
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t lock; /* everything below; the thread holds it while it works */
	struct conn **conns;  /* open connections (unordered) */
	size_t nconns, conns_alloc;
	struct station *st; /* open-addressing table of stations, st_cap slots */
	size_t st_cap, st_used;
	uint16_t serial; /* the centre's own frames */
	struct gb_listener_stats stats;
	int64_t last_sweep_mono;
	bool accept_paused;	    /* the listening socket is out of the epoll set */
	int64_t accept_resume_mono; /* when to put it back */
	bool closed_since_pause;    /* a connection closed meanwhile: a descriptor is free */
	bool draining;		    /* reading a hung-up owner's last bytes (no nesting) */
	struct ratelog log_accept, log_refused, log_evict, log_conflict, log_unknown;
};

/* Tags for epoll_event.data.ptr that are not connections. */
static char tag_listen, tag_wake;

/* True when a line may be written now; *suppressed gets the events skipped since the last. */
static bool ratelog_ok(struct ratelog *r, int64_t mono, uint64_t *suppressed)
{
	if (r->used && mono - r->last_mono < RATELOG_MS) {
		r->suppressed++;
		return false;
	}
	r->used = true;
	r->last_mono = mono;
	*suppressed = r->suppressed;
	r->suppressed = 0;
	return true;
}

/* ---- Stations ---- */

static uint64_t addr_key(const uint8_t a[GB_ADDR_LEN])
{
	uint64_t k = 0;
	for (size_t i = 0; i < GB_ADDR_LEN; i++)
		k = k << 8 | a[i];
	return k + 1;
}

static void key_addr(uint64_t key, uint8_t a[GB_ADDR_LEN])
{
	uint64_t k = key - 1;
	for (size_t i = GB_ADDR_LEN; i-- > 0;) {
		a[i] = (uint8_t)(k & 0xff);
		k >>= 8;
	}
}

static size_t key_slot(uint64_t key, size_t cap)
{
	key ^= key >> 29;
	key *= 0xbf58476d1ce4e5b9ULL;
	key ^= key >> 32;
	return (size_t)key & (cap - 1);
}

static struct station *station_find(struct gb_listener *l, uint64_t key)
{
	if (!l->st_cap)
		return NULL;
	for (size_t i = key_slot(key, l->st_cap);; i = (i + 1) & (l->st_cap - 1)) {
		if (l->st[i].key == key)
			return &l->st[i];
		if (!l->st[i].key)
			return NULL;
	}
}

/* The station for key, added when new; NULL when the table is full (MAX_STATIONS). */
static struct station *station_get(struct gb_listener *l, uint64_t key)
{
	struct station *s = station_find(l, key);
	if (s)
		return s;
	if (l->st_used >= MAX_STATIONS)
		return NULL;
	if ((l->st_used + 1) * 2 > l->st_cap) {
		size_t cap = l->st_cap ? l->st_cap * 2 : 64;
		struct station *old = l->st;
		size_t old_cap = l->st_cap;
		l->st = xcalloc(cap, sizeof *l->st);
		l->st_cap = cap;
		for (size_t i = 0; i < old_cap; i++) {
			if (!old[i].key)
				continue;
			size_t j = key_slot(old[i].key, cap);
			while (l->st[j].key)
				j = (j + 1) & (cap - 1);
			l->st[j] = old[i];
		}
		xfree(old);
	}
	size_t i = key_slot(key, l->st_cap);
	while (l->st[i].key)
		i = (i + 1) & (l->st_cap - 1);
	memset(&l->st[i], 0, sizeof l->st[i]);
	l->st[i].key = key;
	l->st_used++;
	return &l->st[i];
}

/* ---- Output ---- */

static void conn_interest(struct gb_listener *l, struct conn *c)
{
	struct epoll_event ev = {0};
	bool pending = c->out_len > c->out_off;
	c->reading = pending ? c->out_len - c->out_off < OUT_PAUSE : true;
	ev.events = (c->reading ? EPOLLIN | EPOLLRDHUP : 0) | (pending ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		c->dead = true;
}

/* Writes what it can; marks the connection dead on a write error. */
static void conn_flush(struct gb_listener *l, struct conn *c)
{
	bool was_pending = c->out_len > c->out_off, was_reading = c->reading;
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = true;
			break;
		}
		c->out_off += (size_t)w;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	bool pending = c->out_len > c->out_off;
	bool reading = !pending || c->out_len - c->out_off < OUT_PAUSE;
	if (!c->dead && (pending != was_pending || reading != was_reading))
		conn_interest(l, c);
}

/* Queues a frame on c; false (connection marked dead) when its queue is over OUT_CAP. */
static bool conn_queue(struct conn *c, const struct gb_frame *f)
{
	uint8_t buf[GB_FRAME_MAX];
	size_t n = 0;
	if (gb_frame_encode(f, buf, sizeof buf, &n) != CD_OK)
		return false;
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + n > OUT_CAP) {
		if (c->out_off) { /* reclaim the written front first */
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		if (c->out_len + n > OUT_CAP) {
			c->dead = true;
			return false;
		}
	}
	if (c->out_len + n > c->out_alloc) {
		size_t a = c->out_alloc ? c->out_alloc * 2 : 1024;
		while (a < c->out_len + n)
			a *= 2;
		if (a > OUT_CAP)
			a = OUT_CAP;
		c->out = xrealloc(c->out, a);
		c->out_alloc = a;
	}
	memcpy(c->out + c->out_len, buf, n);
	c->out_len += n;
	return true;
}

static void centre_time(uint8_t t[GB_TIME_LEN])
{
	gb_time_from_ms(clock_wall_ms(), t);
}

/* ---- Input ---- */

/* Hands a message to the owner; its answer (CD_OK: taken). */
static enum cd_err deliver(struct gb_listener *l, enum gb_msg_kind kind, uint64_t key, const struct gb_frame *f,
			   int64_t recv_ms, bool first)
{
	if (!l->cfg.on_message)
		return CD_OK;
	uint8_t a[GB_ADDR_LEN];
	struct gb_message m = {.kind = kind, .recv_ms = recv_ms, .frame = f, .first = first};
	key_addr(key, a);
	gb_addr_hex(a, m.addr);
	return l->cfg.on_message(l->cfg.ctx, &m);
}

/* Answers `bad` with a NAK, whatever the rate (a good frame the owner did not take). */
static void queue_nak(struct gb_listener *l, struct conn *c, const struct gb_frame *bad)
{
	struct gb_frame nak;
	uint8_t t[GB_TIME_LEN];
	centre_time(t);
	gb_frame_nak(bad, t, &nak);
	if (conn_queue(c, &nak))
		l->stats.naks++;
}

/* A NAK for a refused or bad frame, at most NAKS_PER_SECOND per connection. */
static void send_nak(struct gb_listener *l, struct conn *c, const struct gb_frame *bad)
{
	int64_t sec = clock_mono_ms() / 1000;
	if (sec != c->nak_window) {
		c->nak_window = sec;
		c->naks_in_window = 0;
	}
	if (++c->naks_in_window > NAKS_PER_SECOND)
		return;
	queue_nak(l, c, bad);
}

static void conn_read(struct gb_listener *l, struct conn *c);

/* A good frame from an address admit refused: counted, listed (newest first, once), logged at
 * most every RATELOG_MS. */
static void note_unknown(struct gb_listener *l, struct conn *c, const char *hex, int64_t mono)
{
	char(*a)[GB_ADDR_HEX] = l->stats.unknown_addrs;
	size_t i = 0;
	while (i < GB_UNKNOWN_KEEP - 1 && a[i][0] && strcmp(a[i], hex) != 0)
		i++;
	memmove(a + 1, a, i * sizeof a[0]); /* drops the old copy, or the oldest when full */
	memcpy(a[0], hex, GB_ADDR_HEX);
	l->stats.unknown++;
	uint64_t sup;
	if (ratelog_ok(&l->log_unknown, mono, &sup))
		log_msg(LOG_WARN, "gb26875 frame from an unregistered transmitter refused (NAK)",
			"\"address\":\"%s\",\"peer\":\"%s\",\"unknown_total\":%llu,\"suppressed\":%llu", hex,
			c->peer, (unsigned long long)l->stats.unknown, (unsigned long long)sup);
}

/* Whether connection c may use the address `key`: yes when no live connection has it, when it
 * is c's, or when its connection gives it up: closing already, its peer hung up (what that
 * peer still sent is read first, so nothing it said is lost or reordered), or the address has
 * been silent on it for takeover_ms (a device that rebooted leaves a half-open socket behind).
 * Otherwise *owner is the connection that keeps it. */
static bool may_use(struct gb_listener *l, struct conn *c, uint64_t key, int64_t mono, struct conn **owner)
{
	struct station *s = station_find(l, key);
	if (!s || !s->conn || s->conn == c || s->conn->dead)
		return true;
	if (mono - s->last_seen_mono >= l->cfg.takeover_ms)
		return true;
	struct conn *old = s->conn;
	*owner = old;
	struct pollfd p = {.fd = old->fd, .events = POLLIN | POLLRDHUP};
	if (l->draining || poll(&p, 1, 0) <= 0 || !(p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		return false;
	l->draining = true;
	conn_read(l, old); /* may add stations: s is not valid after it */
	l->draining = false;
	s = station_find(l, key);
	return !s || !s->conn || s->conn == c || s->conn->dead;
}

/* A frame refused because another live connection has its address. */
static void note_conflict(struct gb_listener *l, struct conn *c, const struct conn *owner, const char *hex,
			  int64_t mono)
{
	l->stats.conflicts++;
	uint64_t sup;
	if (ratelog_ok(&l->log_conflict, mono, &sup))
		log_msg(LOG_WARN, "gb26875 address conflict: a second connection claims a connected transmitter (NAK)",
			"\"address\":\"%s\",\"peer\":\"%s\",\"owner_peer\":\"%s\",\"conflicts_total\":%llu,"
			"\"suppressed\":%llu",
			hex, c->peer, owner->peer, (unsigned long long)l->stats.conflicts, (unsigned long long)sup);
}

/* A good frame from the transmitter f->src. */
static void on_frame(struct gb_listener *l, struct conn *c, const struct gb_frame *f)
{
	int64_t recv_ms = clock_wall_ms(), mono = clock_mono_ms();
	uint64_t key = addr_key(f->src);
	char hex[GB_ADDR_HEX];
	gb_addr_hex(f->src, hex);
	/* Refused frames are NAKed when they carry data (the device retries and the operator sees
	 * it); a refused device's ACK or request is dropped. Nothing about them is tracked. */
	if (l->cfg.admit && !l->cfg.admit(l->cfg.ctx, hex)) {
		note_unknown(l, c, hex, mono);
		if (f->cmd == GB_CMD_SEND)
			send_nak(l, c, f);
		return;
	}
	struct conn *owner = NULL;
	if (!may_use(l, c, key, mono, &owner)) {
		note_conflict(l, c, owner, hex, mono);
		if (f->cmd == GB_CMD_SEND)
			send_nak(l, c, f);
		return;
	}
	struct station *s = station_get(l, key);
	bool first = false;
	if (s) {
		if (s->conn && s->conn != c)
			log_msg(LOG_INFO, "gb26875 transmitter moved to a new connection",
				"\"address\":\"%s\",\"peer\":\"%s\",\"old_peer\":\"%s\",\"silent_ms\":%lld", hex,
				c->peer, s->conn->peer, (long long)(mono - s->last_seen_mono));
		s->conn = c;
		if (!c->key)
			c->key = key;
		else if (c->key != key)
			c->multi = true;
		memcpy(s->centre, f->dst, GB_ADDR_LEN);
		s->last_seen_ms = recv_ms;
		s->last_seen_mono = mono;
		first = !s->online;
		s->online = true;
	}
	uint8_t t[GB_TIME_LEN];
	switch (f->cmd) {
	case GB_CMD_SEND: {
		struct gb_unit u;
		if (f->len && gb_unit_parse(f->data, f->len, &u) == CD_ERR_INVALID) {
			l->stats.undecodable++;
			if (l->cfg.nak_undecodable) {
				send_nak(l, c, f);
				return;
			}
		}
		/* Delivered first, answered after: an ACK promises the centre has the message (the
		 * transmitter forgets it), so it goes out only when the owner took it. Otherwise a
		 * NAK makes the transmitter send it again. */
		if (deliver(l, GB_MSG_DATA, key, f, recv_ms, first) != CD_OK) {
			l->stats.not_taken++;
			if (s && first)
				s->online = false; /* the resent frame is still the first one */
			queue_nak(l, c, f);
			return;
		}
		struct gb_frame ack;
		centre_time(t);
		gb_frame_ack(f, t, &ack);
		if (conn_queue(c, &ack))
			l->stats.acks++;
		break;
	}
	case GB_CMD_ACK:
	case GB_CMD_NAK:
	case GB_CMD_RESPONSE:
		(void)deliver(l, GB_MSG_REPLY, key, f, recv_ms, first);
		break;
	default:
		/* Control or request from a device, or a vendor command: seen, not acted on. */
		break;
	}
}

/* Gives up on an unfinished frame that waited longer than frame_timeout_ms. */
static void conn_expire(struct gb_listener *l, struct conn *c, int64_t mono)
{
	if (!c->pending_mono || mono - c->pending_mono < l->cfg.frame_timeout_ms)
		return;
	bool had_header = c->rd.len >= GB_HEADER_LEN;
	struct gb_frame *f = xmalloc(sizeof *f);
	if (gb_reader_expire(&c->rd, f) == GB_BAD_TRUNCATED) {
		l->stats.truncated++;
		l->stats.bad_frames++;
		if (had_header)
			send_nak(l, c, f);
	}
	/* What follows the dropped byte may hold whole frames. */
	enum gb_status st;
	while ((st = gb_reader_next(&c->rd, f)) != GB_NEED_MORE) {
		if (st == GB_FRAME_OK) {
			c->bad_bytes = 0;
			l->stats.frames++;
			on_frame(l, c, f);
		} else {
			l->stats.bad_frames++;
			send_nak(l, c, f);
		}
	}
	c->pending_mono = gb_reader_pending(&c->rd) ? mono : 0;
	xfree(f);
	conn_flush(l, c);
}

static void conn_read(struct gb_listener *l, struct conn *c)
{
	uint8_t buf[4096];
	size_t budget = READ_BUDGET;
	struct gb_frame *f = xmalloc(sizeof *f);
	bool produced = false;
	while (budget && !c->dead && c->reading) {
		ssize_t r = recv(c->fd, buf, sizeof buf < budget ? sizeof buf : budget, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = true;
			break;
		}
		if (r == 0) {
			c->dead = true;
			break;
		}
		budget -= (size_t)r;
		c->last_rx_mono = clock_mono_ms();
		size_t off = 0;
		while (off < (size_t)r && !c->dead) {
			uint64_t garbage0 = c->rd.garbage;
			off += gb_reader_feed(&c->rd, buf + off, (size_t)r - off);
			enum gb_status st;
			while ((st = gb_reader_next(&c->rd, f)) != GB_NEED_MORE) {
				produced = true;
				if (st == GB_FRAME_OK) {
					c->bad_bytes = 0;
					l->stats.frames++;
					on_frame(l, c, f);
				} else {
					c->bad_bytes += 2;
					l->stats.bad_frames++;
					send_nak(l, c, f);
				}
			}
			uint64_t skipped = c->rd.garbage - garbage0;
			l->stats.garbage_bytes += skipped;
			c->bad_bytes += (size_t)skipped;
			if (c->bad_bytes > GARBAGE_LIMIT) {
				log_msg(LOG_WARN, "gb26875 connection closed: nothing but bad bytes",
					"\"peer\":\"%s\"", c->peer);
				l->stats.closed_garbage++;
				c->dead = true;
			}
		}
		conn_flush(l, c);
	}
	if (!gb_reader_pending(&c->rd))
		c->pending_mono = 0;
	else if (produced || !c->pending_mono)
		c->pending_mono = c->last_rx_mono;
	xfree(f);
}

/* ---- Connections ---- */

static void conn_close(struct gb_listener *l, size_t i)
{
	struct conn *c = l->conns[i];
	if (c->multi) {
		for (size_t k = 0; k < l->st_cap; k++)
			if (l->st[k].key && l->st[k].conn == c)
				l->st[k].conn = NULL;
	} else if (c->key) {
		struct station *s = station_find(l, c->key);
		if (s && s->conn == c)
			s->conn = NULL;
	}
	if (c->fd >= 0) { /* -1 once evicted */
		epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	xfree(c->out);
	xfree(c);
	l->conns[i] = l->conns[--l->nconns];
	l->stats.open--;
	l->closed_since_pause = true;
}

static void peer_name(const struct sockaddr_storage *sa, char out[64])
{
	char host[48] = "?", port[8] = "?";
	getnameinfo((const struct sockaddr *)sa, sizeof *sa, host, sizeof host, port, sizeof port,
		    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(out, 64, "%s:%s", host, port);
}

/* The peer's IP as 16 bytes (IPv4 mapped into IPv6), so both families compare alike. */
static void peer_host(const struct sockaddr_storage *sa, uint8_t out[16])
{
	memset(out, 0, 16);
	if (sa->ss_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->ss_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

static size_t host_conns(const struct gb_listener *l, const uint8_t host[16])
{
	size_t n = 0;
	for (size_t i = 0; i < l->nconns; i++)
		if (!l->conns[i]->dead && memcmp(l->conns[i]->host, host, 16) == 0)
			n++;
	return n;
}

/* Out of descriptors (or kernel memory): the listening socket leaves the epoll set, so the
 * level-triggered wake-ups stop, until ACCEPT_PAUSE_MS pass or one of ours closes (a descriptor
 * is free again). The waiting connections stay in the kernel's backlog meanwhile. */
static void accept_pause(struct gb_listener *l, int err, int64_t mono)
{
	if (!l->accept_paused && epoll_ctl(l->ep, EPOLL_CTL_DEL, l->lfd, NULL) == 0)
		l->accept_paused = true;
	l->accept_resume_mono = mono + ACCEPT_PAUSE_MS;
	l->closed_since_pause = false;
	l->stats.accept_pauses++;
	uint64_t sup;
	if (ratelog_ok(&l->log_accept, mono, &sup))
		log_msg(LOG_ERROR, "gb26875 accept failed: not accepting for a second",
			"\"errno\":%d,\"error\":\"%s\",\"open\":%zu,\"suppressed\":%llu", err, strerror(err),
			l->nconns, (unsigned long long)sup);
}

static void accept_resume_due(struct gb_listener *l, int64_t mono)
{
	if (!l->accept_paused || (mono < l->accept_resume_mono && !l->closed_since_pause))
		return;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tag_listen};
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &ev) == 0 || errno == EEXIST)
		l->accept_paused = false;
	else
		l->accept_resume_mono = mono + ACCEPT_PAUSE_MS;
}

/* Refuses a connection just accepted; logged at most every RATELOG_MS. */
static void refuse(struct gb_listener *l, int fd, const struct sockaddr_storage *sa, const char *why)
{
	close(fd);
	uint64_t sup;
	if (ratelog_ok(&l->log_refused, clock_mono_ms(), &sup)) {
		char peer[64];
		peer_name(sa, peer);
		log_msg(LOG_WARN, "gb26875 connection refused", "\"why\":\"%s\",\"peer\":\"%s\",\"open\":%zu,"
			"\"refused_total\":%llu,\"refused_host_total\":%llu,\"suppressed\":%llu", why, peer, l->nconns,
			(unsigned long long)l->stats.refused, (unsigned long long)l->stats.refused_host,
			(unsigned long long)sup);
	}
}

static size_t live_conns(const struct gb_listener *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->nconns; i++)
		n += !l->conns[i]->dead;
	return n;
}

/* When full: closes the oldest connection that has had no frame accepted (no admitted address
 * on it) for anon_evict_ms, so idle or junk connections cannot keep transmitters out. Its
 * descriptor is closed now (a new one is about to be taken); the rest is reaped with the round.
 * False when every connection is a transmitter's or too young. */
static bool evict_anonymous(struct gb_listener *l, int64_t mono)
{
	struct conn *victim = NULL;
	for (size_t i = 0; i < l->nconns; i++) {
		struct conn *c = l->conns[i];
		if (!c->dead && !c->key && mono - c->opened_mono >= l->cfg.anon_evict_ms &&
		    (!victim || c->opened_mono < victim->opened_mono))
			victim = c;
	}
	if (!victim)
		return false;
	uint64_t sup;
	if (ratelog_ok(&l->log_evict, mono, &sup))
		log_msg(LOG_WARN, "gb26875 full: closed a connection that sent no accepted frame",
			"\"peer\":\"%s\",\"age_ms\":%lld,\"evicted_total\":%llu,\"suppressed\":%llu", victim->peer,
			(long long)(mono - victim->opened_mono), (unsigned long long)l->stats.evicted + 1,
			(unsigned long long)sup);
	epoll_ctl(l->ep, EPOLL_CTL_DEL, victim->fd, NULL);
	close(victim->fd);
	victim->fd = -1;
	victim->dead = true;
	l->stats.evicted++;
	return true;
}

static void accept_all(struct gb_listener *l)
{
	for (int budget = ACCEPT_BUDGET; budget > 0 && !l->accept_paused; budget--) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof sa;
		int fd = accept4(l->lfd, (struct sockaddr *)&sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int err = errno;
			if (err == EAGAIN || err == EWOULDBLOCK)
				return;
			/* That connection's own failure (accept(2) passes pending network errors on):
			 * it is gone from the backlog, so trying again makes progress. */
			if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == ENETDOWN ||
			    err == ENOPROTOOPT || err == EHOSTDOWN || err == ENONET || err == EHOSTUNREACH ||
			    err == EOPNOTSUPP || err == ENETUNREACH)
				continue;
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM or anything else: retrying at once would spin. */
			accept_pause(l, err, clock_mono_ms());
			return;
		}
		uint8_t host[16];
		peer_host(&sa, host);
		int64_t mono = clock_mono_ms();
		if (host_conns(l, host) >= l->cfg.max_per_host) {
			l->stats.refused_host++;
			refuse(l, fd, &sa, "max_per_host");
			continue;
		}
		if (l->nconns >= l->cfg.max_connections && live_conns(l) >= l->cfg.max_connections &&
		    !evict_anonymous(l, mono)) {
			l->stats.refused++;
			refuse(l, fd, &sa, "max_connections");
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* ACKs go out at once */
		struct conn *c = xcalloc(1, sizeof *c);
		c->fd = fd;
		gb_reader_init(&c->rd);
		c->opened_mono = c->last_rx_mono = mono;
		c->reading = true;
		memcpy(c->host, host, sizeof c->host);
		peer_name(&sa, c->peer);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			xfree(c);
			continue;
		}
		if (l->nconns == l->conns_alloc) {
			l->conns_alloc = l->conns_alloc ? l->conns_alloc * 2 : 16;
			l->conns = xrealloc(l->conns, l->conns_alloc * sizeof *l->conns);
		}
		l->conns[l->nconns++] = c;
		l->stats.connections++;
		l->stats.open++;
	}
}

/* Once a second or so: silent connections, stuck frames, addresses gone offline. */
static void sweep(struct gb_listener *l, int64_t mono)
{
	for (size_t i = 0; i < l->nconns; i++) {
		struct conn *c = l->conns[i];
		if (c->dead)
			continue;
		if (mono - c->last_rx_mono >= l->cfg.idle_timeout_ms) {
			l->stats.timeouts++;
			c->dead = true;
			continue;
		}
		conn_expire(l, c, mono);
	}
	for (size_t k = 0; k < l->st_cap; k++) {
		struct station *s = &l->st[k];
		if (s->key && s->online && mono - s->last_seen_mono >= l->cfg.idle_timeout_ms) {
			s->online = false;
			l->stats.offline++;
			(void)deliver(l, GB_MSG_OFFLINE, s->key, NULL, clock_wall_ms(), false);
		}
	}
}

static void reap(struct gb_listener *l)
{
	for (size_t i = 0; i < l->nconns;) {
		if (l->conns[i]->dead)
			conn_close(l, i);
		else
			i++;
	}
}

static void *listener_main(void *arg)
{
	struct gb_listener *l = arg;
	pthread_setname_np(pthread_self(), "gb26875"); /* for top -H and perf */
	struct epoll_event evs[64];
	int tick = l->cfg.frame_timeout_ms < 1000 ? l->cfg.frame_timeout_ms / 2 + 1 : 500;
	if (l->cfg.idle_timeout_ms < 2 * tick)
		tick = l->cfg.idle_timeout_ms / 2 + 1;
	while (!atomic_load(&l->stop)) {
		int n = epoll_wait(l->ep, evs, 64, tick);
		if (n < 0 && errno != EINTR) {
			log_msg(LOG_ERROR, "gb26875 epoll_wait failed", "\"errno\":%d", errno);
			break;
		}
		pthread_mutex_lock(&l->lock);
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &tag_listen) {
				accept_all(l);
			} else if (p == &tag_wake) {
				uint64_t v;
				ssize_t r = read(l->efd, &v, sizeof v);
				(void)r; /* the stop flag says why we woke */
			} else {
				struct conn *c = p;
				if (c->dead)
					continue;
				if (evs[i].events & EPOLLOUT)
					conn_flush(l, c);
				if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
					conn_read(l, c);
				if (evs[i].events & (EPOLLHUP | EPOLLERR) && !(evs[i].events & EPOLLIN))
					c->dead = true;
			}
		}
		int64_t mono = clock_mono_ms();
		if (mono - l->last_sweep_mono >= tick) {
			l->last_sweep_mono = mono;
			sweep(l, mono);
		}
		reap(l);
		accept_resume_due(l, mono);
		pthread_mutex_unlock(&l->lock);
	}
	return NULL;
}

/* ---- Start, stop, commands ---- */

void gb_listener_config_init(struct gb_listener_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->idle_timeout_ms = 90 * 1000;
	cfg->frame_timeout_ms = 5 * 1000;
	cfg->takeover_ms = GB_TAKEOVER_MS;
	cfg->max_connections = GB_MAX_CONNECTIONS;
	cfg->max_per_host = GB_PER_HOST_MAX;
	cfg->anon_evict_ms = GB_ANON_EVICT_MS;
	cfg->nak_undecodable = true;
}

size_t gb_listener_fd_cap(uint64_t nofile)
{
	uint64_t cap = nofile / 8 * 3 + nofile % 8 * 3 / 8; /* no overflow near UINT64_MAX */
	if (cap > SIZE_MAX)
		cap = SIZE_MAX;
	return cap ? (size_t)cap : 1;
}

/* Splits "host:port", "[v6]:port" or ":port" into its parts. */
static bool split_listen(const char *where, char host[256], char port[16])
{
	const char *colon;
	if (!where || !*where)
		return false;
	if (where[0] == '[') {
		const char *end = strchr(where, ']');
		if (!end || end[1] != ':')
			return false;
		size_t hl = (size_t)(end - where - 1);
		if (hl >= 256)
			return false;
		memcpy(host, where + 1, hl);
		host[hl] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(where, ':');
		if (!colon)
			return false;
		size_t hl = (size_t)(colon - where);
		if (hl >= 256)
			return false;
		memcpy(host, where, hl);
		host[hl] = '\0';
	}
	size_t pl = strlen(colon + 1);
	if (pl == 0 || pl >= 16)
		return false;
	for (size_t i = 0; i < pl; i++)
		if (colon[1 + i] < '0' || colon[1 + i] > '9')
			return false;
	memcpy(port, colon + 1, pl + 1);
	return true;
}

static int bind_listen(const char *where, int *port_out)
{
	char host[256], port[16];
	if (!split_listen(where, host, port))
		return -2;
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host[0] && strcmp(host, "*") != 0 ? host : NULL, port, &hints, &res);
	if (gai != 0) {
		log_msg(LOG_ERROR, "gb26875 listen address not resolved", "\"listen\":\"%s\"", where);
		return -2;
	}
	int fd = -1, err = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		log_msg(LOG_ERROR, "gb26875 cannot listen", "\"listen\":\"%s\",\"errno\":%d,\"error\":\"%s\"",
			where, err, strerror(err));
		return -1;
	}
	struct sockaddr_storage sa;
	socklen_t salen = sizeof sa;
	*port_out = 0;
	if (getsockname(fd, (struct sockaddr *)&sa, &salen) == 0) {
		if (sa.ss_family == AF_INET)
			*port_out = ntohs(((struct sockaddr_in *)&sa)->sin_port);
		else if (sa.ss_family == AF_INET6)
			*port_out = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
	}
	return fd;
}

enum cd_err gb_listener_start(const struct gb_listener_config *cfg, struct gb_listener **out)
{
	enum cd_err rc = CD_ERR_IO;
	*out = NULL;
	struct gb_listener *l = xcalloc(1, sizeof *l);
	l->cfg = *cfg;
	if (l->cfg.idle_timeout_ms <= 0)
		l->cfg.idle_timeout_ms = 90 * 1000;
	if (l->cfg.frame_timeout_ms <= 0)
		l->cfg.frame_timeout_ms = 5 * 1000;
	if (l->cfg.takeover_ms <= 0)
		l->cfg.takeover_ms = GB_TAKEOVER_MS;
	if (!l->cfg.max_connections)
		l->cfg.max_connections = GB_MAX_CONNECTIONS;
	if (!l->cfg.max_per_host)
		l->cfg.max_per_host = GB_PER_HOST_MAX;
	if (l->cfg.anon_evict_ms <= 0)
		l->cfg.anon_evict_ms = GB_ANON_EVICT_MS;
	/* Every connection is a descriptor: past the process's limit, HTTP and SQLite fail too. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		size_t cap = gb_listener_fd_cap((uint64_t)rl.rlim_cur);
		if (cap < l->cfg.max_connections) {
			log_msg(LOG_WARN, "gb26875 max_connections lowered to fit the file-descriptor limit",
				"\"configured\":%zu,\"max_connections\":%zu,\"nofile\":%llu,"
				"\"hint\":\"raise ulimit -n / LimitNOFILE for more transmitters\"",
				l->cfg.max_connections, cap, (unsigned long long)rl.rlim_cur);
			l->cfg.max_connections = cap;
		}
	}
	l->stats.max_connections = l->cfg.max_connections;
	l->lfd = l->efd = l->ep = -1;
	pthread_mutex_init(&l->lock, NULL);
	atomic_init(&l->stop, false);
	l->lfd = bind_listen(cfg->listen, &l->port);
	if (l->lfd == -2) {
		rc = CD_ERR_INVALID;
		l->lfd = -1;
		goto fail;
	}
	if (l->lfd < 0)
		goto fail;
	l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->efd < 0 || l->ep < 0) {
		log_msg(LOG_ERROR, "gb26875 epoll/eventfd failed", "\"errno\":%d", errno);
		goto fail;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tag_listen};
	struct epoll_event wake = {.events = EPOLLIN, .data.ptr = &tag_wake};
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &ev) != 0 ||
	    epoll_ctl(l->ep, EPOLL_CTL_ADD, l->efd, &wake) != 0)
		goto fail;
	l->serial = 0;
	if (pthread_create(&l->thread, NULL, listener_main, l) != 0)
		goto fail;
	log_msg(LOG_INFO, "gb26875 listening", "\"port\":%d,\"max_connections\":%zu,\"max_per_host\":%zu", l->port,
		l->cfg.max_connections, l->cfg.max_per_host);
	*out = l;
	return CD_OK;
fail:
	if (l->ep >= 0)
		close(l->ep);
	if (l->efd >= 0)
		close(l->efd);
	if (l->lfd >= 0)
		close(l->lfd);
	pthread_mutex_destroy(&l->lock);
	xfree(l);
	return rc;
}

int gb_listener_port(const struct gb_listener *l)
{
	return l->port;
}

void gb_listener_stop(struct gb_listener *l)
{
	if (!l)
		return;
	atomic_store(&l->stop, true);
	uint64_t one = 1;
	ssize_t w = write(l->efd, &one, sizeof one);
	(void)w; /* the loop also wakes on its tick */
	pthread_join(l->thread, NULL);
	while (l->nconns)
		conn_close(l, l->nconns - 1);
	xfree(l->conns);
	xfree(l->st);
	close(l->ep);
	close(l->efd);
	close(l->lfd);
	pthread_mutex_destroy(&l->lock);
	xfree(l);
}

/* Queues a duty check or clock sync for the transmitter at addr and tries to send it. */
static enum cd_err send_control(struct gb_listener *l, const char *addr, bool duty, uint8_t minutes,
				uint16_t *serial)
{
	uint8_t a[GB_ADDR_LEN];
	if (!gb_addr_parse(addr, a))
		return CD_ERR_INVALID;
	enum cd_err rc = CD_ERR_NOTFOUND;
	pthread_mutex_lock(&l->lock);
	struct station *s = station_find(l, addr_key(a));
	if (!s || !s->conn || s->conn->dead)
		goto out;
	struct conn *c = s->conn;
	struct gb_frame f;
	uint8_t t[GB_TIME_LEN];
	int64_t now = clock_wall_ms();
	gb_time_from_ms(now, t);
	uint16_t sn = ++l->serial;
	if (duty)
		gb_frame_duty_check(sn, s->centre, a, t, minutes, &f);
	else
		gb_frame_clock_sync(sn, s->centre, a, t, t, &f);
	rc = CD_ERR_IO;
	if (!conn_queue(c, &f))
		goto out;
	conn_flush(l, c);
	if (c->dead)
		goto out;
	if (serial)
		*serial = sn;
	rc = CD_OK;
out:
	pthread_mutex_unlock(&l->lock);
	if (rc == CD_ERR_IO) {
		/* The thread reaps it; wake it so the close is prompt. */
		uint64_t one = 1;
		ssize_t w = write(l->efd, &one, sizeof one);
		(void)w;
	}
	return rc;
}

enum cd_err gb_listener_duty_check(struct gb_listener *l, const char *addr, unsigned minutes,
				   uint16_t *serial)
{
	if (minutes < 1 || minutes > 255)
		return CD_ERR_INVALID;
	return send_control(l, addr, true, (uint8_t)minutes, serial);
}

enum cd_err gb_listener_clock_sync(struct gb_listener *l, const char *addr, uint16_t *serial)
{
	return send_control(l, addr, false, 0, serial);
}

bool gb_listener_connected(struct gb_listener *l, const char *addr, int64_t *last_seen_ms)
{
	uint8_t a[GB_ADDR_LEN];
	if (last_seen_ms)
		*last_seen_ms = 0;
	if (!gb_addr_parse(addr, a))
		return false;
	pthread_mutex_lock(&l->lock);
	struct station *s = station_find(l, addr_key(a));
	bool connected = s && s->conn && !s->conn->dead;
	if (s && last_seen_ms)
		*last_seen_ms = s->last_seen_ms;
	pthread_mutex_unlock(&l->lock);
	return connected;
}

void gb_listener_stats(struct gb_listener *l, struct gb_listener_stats *out)
{
	pthread_mutex_lock(&l->lock);
	*out = l->stats;
	pthread_mutex_unlock(&l->lock);
}
