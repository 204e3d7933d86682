/* The running server's shared state, handed to every HTTP handler as app_ctx. */
#ifndef CD_APP_H
#define CD_APP_H

#include <pthread.h>
#include <stdint.h>

#include "app/config.h"
#include "core/auth.h"
#include "store/store.h"

struct mapview;
struct cal;
struct category_tree;
struct classify_kw;
struct classify_model;
struct commit_queue;
struct events;
struct webhooks;
struct similar_index;
struct devices;
struct series;
struct alerts;
struct iot_hub;

struct app {
	struct config cfg;            /* resolved settings */
	struct store *st;             /* the store; thread-safe */
	struct auth_limiter *limiter; /* failed logins by username and by address */
	int64_t session_seconds;      /* bearer token lifetime */
	int64_t started_at;           /* unix seconds, for uptime */
	pthread_rwlock_t map_lock;    /* guards `map`: handlers read, a reload swaps it */
	struct mapview *map;          /* the map as loaded from the store (never NULL while serving) */
	char map_version[32];         /* store meta "map_version" the map was built from */
	struct cal *cal;              /* working-day calendar; read-only while serving */
	struct category_tree *cats;   /* the category tree; read-only while serving */
	struct classify_kw *classifier; /* keyword classifier over cats: used when no model is trained */
	struct classify_model *model; /* trained model (DATA/classify-hotline.model), or NULL */
	struct commit_queue *intake;  /* group commit of new cases */
	struct events *events;        /* case and alert events for GET /api/v1/stream (app/events.h) */
	struct webhooks *webhooks;    /* outgoing webhooks, fed by `events` (app/webhooks.h) */
	struct similar_index *similar; /* duplicate finder over recent cases (core/similar.h), or NULL */
	struct devices *devices;      /* device registry, in memory over the store (app/devices.h) */
	struct series *series;        /* telemetry time series (app/series.h) */
	struct alerts *alerts;        /* rules and alerts (app/alerts.h) */
	struct iot_hub *iot;          /* the IoT hub's queue, threads, broker and listeners (app/iot.h) */
};

#endif
