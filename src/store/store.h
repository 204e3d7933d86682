/* The store: the only way into citydesk's persistent state (map, units, accounts, sessions,
 * responsibility list, audit trail). No SQL crosses this interface, so a second back end
 * (PostgreSQL) can be one more file. Every function is safe to call from several threads.
 *
 * Conventions: functions return enum cd_err and pass results through out-parameters. Times
 * are int64 unix seconds. Strings handed back live in fixed-size arrays inside result
 * structs unless a comment says otherwise. Every write takes the acting user and appends its
 * audit entry in the same transaction as the change; a write that fails changes nothing.
 * Callbacks given to *_list functions run while the store is locked: they must not call
 * back into the store, and the pointers they receive are only valid during the call. */
#ifndef CD_STORE_H
#define CD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct store;

#define STORE_CODE_MAX 32      /* area, grid, unit, street codes, with NUL */
#define STORE_NAME_MAX 256     /* names (UTF-8, about 80 Chinese characters), with NUL */
#define STORE_TEXT_MAX 1024    /* longer free text (a unit's handled matters), with NUL */
#define STORE_USERNAME_MAX 64  /* with NUL */
#define STORE_ROLE_MAX 24      /* "district_dispatcher" and its NUL fit */
#define STORE_PWHASH_MAX 128   /* an argon2id encoded string with its NUL (AUTH_HASH_MAX) */
#define STORE_TOKEN_HASH_LEN 32
#define STORE_CATEGORY_MAX 128 /* a category code or name, with NUL */
#define STORE_KEY_MAX 64       /* a meta key, with NUL */
#define STORE_HASH_HEX 65      /* 64 hex digits and NUL */

/* Who is writing: recorded in every audit entry. */
struct store_actor {
	const char *name;   /* username, or "system" for the server and local commands */
	const char *client; /* client address ("203.0.113.5"), or NULL/"" for local commands */
};

/* ---- opening ---------------------------------------------------------------------- */

/* Opens (creating if missing) the database at `path` in WAL mode with synchronous=FULL and
 * foreign keys on, and runs any pending migrations, each in its own transaction.
 * CD_ERR_CONFLICT when the file's schema is newer than this binary knows (logged);
 * CD_ERR_CORRUPT when it is not a database; CD_ERR_STORE/CD_ERR_IO otherwise.
 * On success *out is a store to be closed with store_close. */
enum cd_err store_open(const char *path, struct store **out) CD_MUST_CHECK;
/* Finalises statements and closes the database. NULL is fine. */
void store_close(struct store *st);
/* The schema version of the open database (PRAGMA user_version). */
int store_schema_version(struct store *st);
/* The schema version this binary migrates to (the number of embedded migrations). */
int store_schema_latest(void);
/* Bytes used by the database file plus its WAL, for /metrics. */
enum cd_err store_size_bytes(struct store *st, int64_t *out) CD_MUST_CHECK;
/* Copies the WAL into the database and truncates it (on SIGTERM, before exit). */
enum cd_err store_checkpoint(struct store *st) CD_MUST_CHECK;

/* ---- map: areas and the unit grid ---------------------------------------------------- */

/* One administrative area. As input, `geometry` is borrowed from the caller; handed to a
 * callback, it is valid only during the call. */
struct store_area {
	char code[STORE_CODE_MAX];        /* official code: 6 (district), 9 (street), 12 (community) digits */
	char level[16];                   /* "district", "street" or "community" */
	char name[STORE_NAME_MAX];        /* official name */
	char parent_code[STORE_CODE_MAX]; /* enclosing area's code, "" for the district */
	int approximate;                  /* 1 when the outline is a reconstruction, not official */
	const char *geometry;             /* GeoJSON geometry (WGS-84), or NULL */
};

/* One 单元网格 cell. `geometry` as in store_area. */
struct store_grid_cell {
	char code[STORE_CODE_MAX];           /* 15 digits: community code + 3-digit sequence */
	char community_code[STORE_CODE_MAX]; /* must be an existing community area */
	double min_lat, min_lng;             /* bounding box, WGS-84 */
	double max_lat, max_lng;
	const char *geometry; /* GeoJSON Polygon, or NULL */
};

typedef int (*store_area_fn)(void *ctx, const struct store_area *area);
typedef int (*store_grid_fn)(void *ctx, const struct store_grid_cell *cell);

/* Replaces every area of `level` with areas[0..n) in one transaction (all or nothing).
 * For level "community" it also replaces the whole grid with cells[0..ncells), because
 * cells belong to communities; for other levels cells must be NULL and ncells 0.
 * Audited as "areas.replace" with counts. CD_ERR_INVALID for a bad level, a duplicate code,
 * an area whose level differs from `level`, or a cell of an unknown community. */
enum cd_err store_areas_replace(struct store *st, const struct store_actor *actor,
				const char *level, const struct store_area *areas, size_t n,
				const struct store_grid_cell *cells, size_t ncells) CD_MUST_CHECK;
/* Calls fn for each area of `level` (NULL = all levels) in code order; fn returning non-zero
 * stops the walk (and the function returns CD_OK). */
enum cd_err store_areas_list(struct store *st, const char *level, store_area_fn fn,
			     void *ctx) CD_MUST_CHECK;
/* The area with `code`. When geometry_out is not NULL it receives a copy of the geometry
 * (NULL if none) that the caller frees with xfree; out->geometry is set to NULL.
 * CD_ERR_NOTFOUND when there is no such area. */
enum cd_err store_area_get(struct store *st, const char *code, struct store_area *out,
			   char **geometry_out) CD_MUST_CHECK;
/* Replaces the whole grid (for re-gridding without re-importing communities). */
enum cd_err store_grid_replace(struct store *st, const struct store_actor *actor,
			       const struct store_grid_cell *cells, size_t n) CD_MUST_CHECK;
/* Calls fn for each grid cell in code order, for building the in-memory index. */
enum cd_err store_grid_list(struct store *st, store_grid_fn fn, void *ctx) CD_MUST_CHECK;

/* ---- units ------------------------------------------------------------------------- */

struct store_unit {
	char code[STORE_CODE_MAX];        /* e.g. "D-CGZF" */
	char name[STORE_NAME_MAX];        /* e.g. "罗湖区城市管理和综合执法局" */
	char kind[32];                    /* e.g. "district_department", "street_office" */
	char street_code[STORE_CODE_MAX]; /* the street it serves, "" for district-wide */
	char handles[STORE_TEXT_MAX];     /* space-separated matters it handles */
};

/* Inserts or updates the unit with u->code ("unit.put", before/after rows). */
enum cd_err store_unit_put(struct store *st, const struct store_actor *actor,
			   const struct store_unit *u) CD_MUST_CHECK;
/* CD_ERR_NOTFOUND when there is no such unit. */
enum cd_err store_unit_get(struct store *st, const char *code, struct store_unit *out) CD_MUST_CHECK;
/* All units in code order, in a new array (*out, *n) the caller frees with xfree. */
enum cd_err store_units_list(struct store *st, struct store_unit **out, size_t *n) CD_MUST_CHECK;

/* ---- users ------------------------------------------------------------------------- */

struct store_user {
	int64_t id;                              /* assigned by store_user_add */
	char username[STORE_USERNAME_MAX];       /* unique */
	char password_hash[STORE_PWHASH_MAX];    /* argon2id string; "" in store_users_list */
	char role[STORE_ROLE_MAX];               /* one of the eight role names */
	char street_code[STORE_CODE_MAX];        /* scope of a street dispatcher, else "" */
	char unit_code[STORE_CODE_MAX];          /* a unit's staff, else "" */
	char display_name[STORE_NAME_MAX];       /* free text, may be "" */
	int64_t created_at;                      /* set by store_user_add when 0 */
	int disabled;                            /* 1 = may not log in */
};

/* Adds u (id ignored; created_at = now when 0) and returns the new id in *id_out (may be
 * NULL). CD_ERR_EXISTS for a taken username; CD_ERR_INVALID for an unknown role, an unknown
 * unit, or a role missing its scope (street dispatcher without street, unit staff without
 * unit). The audit entry never contains the password hash. */
enum cd_err store_user_add(struct store *st, const struct store_actor *actor,
			   const struct store_user *u, int64_t *id_out) CD_MUST_CHECK;
/* CD_ERR_NOTFOUND when there is no such user (disabled users are found). */
enum cd_err store_user_get_by_name(struct store *st, const char *username,
				   struct store_user *out) CD_MUST_CHECK;
enum cd_err store_user_get_by_id(struct store *st, int64_t id, struct store_user *out) CD_MUST_CHECK;
/* One page of users by id (oldest first), offset/limit as given (limit capped at 500), into
 * a new array the caller frees with xfree; *total is the number of all users. Password
 * hashes are left empty. */
enum cd_err store_users_list(struct store *st, int64_t offset, int64_t limit,
			     struct store_user **out, size_t *n, int64_t *total) CD_MUST_CHECK;
/* Replaces the password hash and revokes the user's sessions. CD_ERR_NOTFOUND if no user. */
enum cd_err store_user_set_password(struct store *st, const struct store_actor *actor,
				    int64_t user_id, const char *password_hash) CD_MUST_CHECK;
/* Disables (1) or enables (0) a user; disabling revokes the user's sessions. */
enum cd_err store_user_set_disabled(struct store *st, const struct store_actor *actor,
				    int64_t user_id, int disabled) CD_MUST_CHECK;

/* ---- sessions (only the SHA-256 of a bearer token is ever stored) ------------------ */

/* Records a session ("session.add"). CD_ERR_INVALID for an unknown user; CD_ERR_EXISTS if
 * the hash is already there (a token collision: make a new token). */
enum cd_err store_session_add(struct store *st, const struct store_actor *actor,
			      const uint8_t token_hash[STORE_TOKEN_HASH_LEN], int64_t user_id,
			      int64_t created_at, int64_t expires_at) CD_MUST_CHECK;
/* The user of a session that exists, is not revoked, has expires_at > now and whose user is
 * not disabled; *expires_at_out (may be NULL) gets its expiry. CD_ERR_NOTFOUND otherwise.
 * Not audited (a read). */
enum cd_err store_session_lookup(struct store *st, const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
				 int64_t now, struct store_user *out,
				 int64_t *expires_at_out) CD_MUST_CHECK;
/* Revokes a session (logout, "session.revoke"). CD_ERR_NOTFOUND when there is no live
 * session with that hash. */
enum cd_err store_session_revoke(struct store *st, const struct store_actor *actor,
				 const uint8_t token_hash[STORE_TOKEN_HASH_LEN], int64_t now) CD_MUST_CHECK;
/* A number that grows after every revocation, disable or password change made through st
 * (whether it succeeded or not). A cache of session lookups tags each entry with the value read
 * *before* its lookup and drops it when the value has moved, so a logout is seen at once by
 * the next request. Changes made by another process (the CLI) do not move it: such a cache
 * must also expire its entries after a short time. Lock-free. */
uint64_t store_auth_generation(struct store *st);
/* Deletes sessions that expired or were revoked before `before`; *removed may be NULL. */
enum cd_err store_session_purge(struct store *st, const struct store_actor *actor,
				int64_t before, int64_t *removed) CD_MUST_CHECK;

/* ---- responsibility list (权责清单) --------------------------------------------------- */

struct store_resp {
	char category_code[STORE_CATEGORY_MAX]; /* a category code or name */
	char area_code[STORE_CODE_MAX];         /* "*" = whole district, else a street/community code */
	char unit_code[STORE_CODE_MAX];         /* must be a known unit */
	int priority;                           /* kept for ordering co-handlers; higher first */
};

/* Replaces the whole list with rows[0..n) (CSV import). CD_ERR_INVALID for an unknown unit;
 * CD_ERR_EXISTS for a repeated (category, area). */
enum cd_err store_resp_replace(struct store *st, const struct store_actor *actor,
			       const struct store_resp *rows, size_t n) CD_MUST_CHECK;
/* The whole list ordered by category then area, in a new array freed with xfree. */
enum cd_err store_resp_list(struct store *st, struct store_resp **out, size_t *n) CD_MUST_CHECK;
/* The unit for `category` at the most specific matching area: the community, then the
 * street, then "*". community or street may be NULL/"". CD_ERR_NOTFOUND when none. */
enum cd_err store_resp_lookup(struct store *st, const char *category, const char *community,
			      const char *street, char unit_out[STORE_CODE_MAX]) CD_MUST_CHECK;

/* A number that grows after every write through st to areas, the grid, units or the
 * responsibility list (store_areas_replace, store_grid_replace, store_unit_put,
 * store_resp_replace). Caches of routing answers and unit names tag entries with the value
 * read before their lookup and drop them when it has moved. Writes by another process do not
 * move it: such caches also expire entries after a few seconds. Lock-free. */
uint64_t store_map_generation(struct store *st);

/* ---- meta (small key/value settings, e.g. "district_loaded") ------------------------ */

/* Copies the value into out[0..cap). CD_ERR_NOTFOUND if unset; CD_ERR_TOOBIG if it does
 * not fit (out then holds nothing useful). */
enum cd_err store_meta_get(struct store *st, const char *key, char *out, size_t cap) CD_MUST_CHECK;
/* Sets (inserts or replaces) a value ("meta.set"). */
enum cd_err store_meta_set(struct store *st, const struct store_actor *actor, const char *key,
			   const char *value) CD_MUST_CHECK;

/* ---- audit (留痕) -------------------------------------------------------------------- */

struct store_audit_entry {
	int64_t id;                     /* 1, 2, 3 ... without gaps */
	char at[32];                    /* "2026-11-27T15:04:05+08:00" */
	char actor[STORE_USERNAME_MAX]; /* username or "system" */
	char client[64];                /* client address or "" */
	char action[64];                /* "user.add" ... */
	char target[STORE_NAME_MAX];    /* "users/3" ... */
	char *before;                   /* JSON or NULL; owned by the entry */
	char *after;                    /* JSON or NULL; owned by the entry */
	char prev_hash[STORE_HASH_HEX];
	char hash[STORE_HASH_HEX];
};

/* Appends an entry that records an event without a row change of its own (e.g. an export,
 * a refused login). before/after are JSON texts or NULL; the caller guarantees they are
 * valid JSON. */
enum cd_err store_audit_append(struct store *st, const struct store_actor *actor,
			       const char *action, const char *target, const char *before_json,
			       const char *after_json) CD_MUST_CHECK;
/* Walks the whole chain. CD_OK when it is whole (*first_bad_id = 0). CD_ERR_CORRUPT when an
 * entry's hash or prev_hash is wrong, an id is missing, or the head record disagrees with
 * the last entry: *first_bad_id names the first bad (or missing) entry and reason gets a
 * sentence. Other errors mean the walk itself failed. reason may be NULL. */
enum cd_err store_audit_verify(struct store *st, int64_t *first_bad_id, char *reason,
			       size_t reason_cap) CD_MUST_CHECK;
/* The number of entries. */
enum cd_err store_audit_count(struct store *st, int64_t *out) CD_MUST_CHECK;
/* One page of entries, newest first (limit capped at 500), into a new array freed with
 * store_audit_list_free. */
enum cd_err store_audit_list(struct store *st, int64_t offset, int64_t limit,
			     struct store_audit_entry **out, size_t *n) CD_MUST_CHECK;
/* Frees what store_audit_list returned. NULL is fine. */
void store_audit_list_free(struct store_audit_entry *entries, size_t n);

/* ---- cases (issue 3) ------------------------------------------------------------------ */

#define STORE_CASE_REF_MAX 24        /* "LH20261127000123" and its NUL */
#define STORE_CASE_TITLE_MAX 768     /* 256 characters of Chinese, with NUL */
#define STORE_CASE_DESC_MAX 12001    /* 4,000 characters of up to 3 bytes, with NUL */
#define STORE_CASE_WORD_MAX 24       /* status, channel, level, source, ... with NUL */
#define STORE_CASE_EXTID_MAX 128     /* a channel's own id, with NUL */
#define STORE_CASE_PHONE_MAX 32
#define STORE_CASE_EVENT_TEXT_MAX 4096 /* an event's comment or data JSON, with NUL */
#define STORE_FILE_ID_MAX 33         /* 32 lowercase hex digits and NUL */
#define STORE_CASES_PAGE_MAX 500     /* largest page store_cases_list returns (the API allows 500) */
#define STORE_CASES_COUNT_CAP 10000  /* totals of lists with q above this are reported as the cap */
#define STORE_CASE_BATCH_MAX 1000    /* largest batch store_case_insert_batch accepts */

/* One case, every stored column. Strings are "" when absent (stored as NULL where the column
 * allows it); times are unix seconds, 0 when the moment has not happened; ids are 0 for none. */
struct store_case {
	int64_t id;                                  /* assigned by store_case_insert_batch */
	char ref[STORE_CASE_REF_MAX];                /* assigned: "LH" + YYYYMMDD + 6-digit sequence */
	int64_t version;                             /* 1 on insert, +1 on every store_case_apply */
	char channel[STORE_CASE_WORD_MAX];           /* hotline app grid camera iot enterprise open311 system */
	char external_id[STORE_CASE_EXTID_MAX];      /* unique per channel when not "" */
	char title[STORE_CASE_TITLE_MAX];
	char description[STORE_CASE_DESC_MAX];       /* required */
	char category_code[STORE_CATEGORY_MAX];      /* "" while unclassified */
	char category_source[STORE_CASE_WORD_MAX];   /* given auto keyword dispatcher, or "" */
	double category_confidence;                  /* 0..1 */
	int has_point;                               /* 1 when lat/lng hold a point */
	double lat, lng;                             /* WGS-84 degrees, read only when has_point */
	char address[STORE_TEXT_MAX];
	char street_code[STORE_CODE_MAX];            /* "" while unplaced */
	char community_code[STORE_CODE_MAX];
	char grid_code[STORE_CODE_MAX];
	char unit_code[STORE_CODE_MAX];              /* current responsible unit, "" when none */
	char status[STORE_CASE_WORD_MAX];            /* workflow_state_name() */
	char level[STORE_CASE_WORD_MAX];             /* community street district ("" = community) */
	int supervised;                              /* 督办 ordered */
	int extension_pending;                       /* an extension request awaits approval */
	char suspended_from[STORE_CASE_WORD_MAX];    /* suspended/merged: state to return to */
	char urgency[STORE_CASE_WORD_MAX];           /* normal urgent emergency ("" = normal) */
	char limit_kind[STORE_CASE_WORD_MAX];        /* working_days working_hours hours, or "" */
	double limit_value;                          /* N of limit_kind */
	int64_t reported_at;                         /* required; deadlines count from it */
	int64_t registered_at, dispatched_at, first_response_at, handled_at, closed_at;
	int64_t deadline;                            /* 0 = no deadline yet */
	int64_t warn_at;                             /* the 80 % point (yellow) */
	int warned, overdue;                         /* marked by the scheduler */
	int rework_count;
	char satisfaction[STORE_CASE_WORD_MAX];      /* satisfied basically_satisfied dissatisfied, "" */
	int64_t duplicate_of;                        /* suggested master case id */
	int64_t merged_into;                         /* master case id once merged */
	int support_count;                           /* 1 + cases merged into this one (0 = 1) */
	char reporter_name[STORE_NAME_MAX];          /* personal data, stored plain */
	char reporter_phone[STORE_CASE_PHONE_MAX];   /* personal data, stored plain */
	int64_t reporter_user_id;                    /* citizen account, 0 if none */
	char attachments[STORE_TEXT_MAX];            /* JSON array of file ids ("" = []) */
	int64_t created_at, updated_at;              /* set by the store */
};

/* One entry of a case's history. */
struct store_case_event {
	int64_t id;                                  /* assigned by the store */
	int64_t case_id;                             /* assigned by the store on insert/apply */
	int64_t at;                                  /* 0 = now */
	char actor[STORE_USERNAME_MAX];              /* username or "system" */
	char role[STORE_ROLE_MAX];
	char action[32];                             /* "report", "register", ..., "warn", "overdue" */
	char from_status[STORE_CASE_WORD_MAX];       /* "" for the first event */
	char to_status[STORE_CASE_WORD_MAX];
	char comment[STORE_CASE_EVENT_TEXT_MAX];
	char data[STORE_CASE_EVENT_TEXT_MAX];        /* JSON object, or "" */
};

/* Counter changes for the score aggregates, counted on the Asia/Shanghai day of `at` for the
 * unit, the street and the category given ("" counts under the empty key). Negative values
 * undo earlier counts. */
struct store_stats_delta {
	int64_t at;                                  /* when the counted event happened */
	char unit_code[STORE_CODE_MAX];
	char street_code[STORE_CODE_MAX];
	char category_code[STORE_CATEGORY_MAX];
	int received, closed, closed_on_time, responded, responded_on_time, rework;
	int rated, satisfied, basically_satisfied, dissatisfied;
	int64_t handling_seconds_sum;                /* closed_at - reported_at of closed cases */
};

/* Inserts n new cases (n <= STORE_CASE_BATCH_MAX) in ONE transaction: the group-commit
 * primitive. For each case: its row (id, ref, version, created_at and updated_at are filled
 * into cases[i]), its first event (first_events[i] when first_events is not NULL, else a
 * "report" event by actor; case_id and id are filled in), and a "received" count in the
 * aggregates on the day of reported_at. One audit entry "cases.intake" lists every stored
 * case (id, ref, channel, external id, status, unit, event actor).
 * results[i] is CD_OK, CD_ERR_EXISTS when (channel, external_id) is already stored (cases[i]
 * is then overwritten with the stored case; nothing is written for it), or CD_ERR_INVALID for
 * a case the schema refuses (unknown channel or status, empty description, ...; nothing is
 * written for it). Those do not stop the others. The function returns CD_OK when the
 * transaction committed; any other return means nothing at all was stored and every
 * results[i] holds that error. An empty status means "reported". */
enum cd_err store_case_insert_batch(struct store *st, const struct store_actor *actor,
				    struct store_case *cases, struct store_case_event *first_events,
				    size_t n, enum cd_err *results) CD_MUST_CHECK;

/* store_case_insert_batch for cases and events that are not in one array (each waiting request
 * of the intake writer owns its own): cases[i], first_events[i] (the array or an entry may be
 * NULL: a default event) point at them and are filled in the same way. */
enum cd_err store_case_insert_each(struct store *st, const struct store_actor *actor,
				   struct store_case *const *cases, struct store_case_event *const *first_events,
				   size_t n, enum cd_err *results) CD_MUST_CHECK;

/* Switches this store's case intake to the intake journal (docs/internals/store.md, "The intake
 * journal"): from now on store_case_insert_batch appends the batch to DB-intake (beside the
 * database file), fdatasyncs it once and returns; the cases are durable and acknowledged at
 * that point, and a background thread writes them into the database in large transactions.
 * Every read still sees them: by id, ref or (channel, external id) from memory until applied;
 * lists, events, apply, due, recent and scores first wait until everything journalled before
 * the call is applied. store_close applies the rest and stops the thread; after kill -9 the
 * next store_open replays what was journalled and not applied, exactly once, and drops a torn
 * last record (never acknowledged). For the server (one process owns the journal: the file is
 * locked; CD_ERR_BUSY when another process holds it). */
enum cd_err store_case_journal_start(struct store *st) CD_MUST_CHECK;

/* Counters of the intake journal, for /metrics and benchmarks. */
struct store_journal_stats {
	int on;                     /* 1 when journal mode is on */
	int64_t journalled;         /* cases journalled since it started */
	int64_t applied;            /* of those, written into the database */
	int64_t pending;            /* journalled, not yet applied */
	int64_t max_pending;        /* the largest backlog seen */
	int64_t batches;            /* journal appends (one fdatasync each) */
	int64_t apply_transactions; /* database transactions of the applier */
	int64_t apply_gathered;     /* of those, the ones that waited for more cases and got some */
	int64_t file_bytes;         /* journal file size */
};
void store_case_journal_stats(struct store *st, struct store_journal_stats *out);

/* The case with that ref / id / (channel, external_id). CD_ERR_NOTFOUND when none. */
enum cd_err store_case_get_by_ref(struct store *st, const char *ref, struct store_case *out) CD_MUST_CHECK;
enum cd_err store_case_get_by_id(struct store *st, int64_t id, struct store_case *out) CD_MUST_CHECK;
enum cd_err store_case_find_external(struct store *st, const char *channel, const char *external_id,
				     struct store_case *out) CD_MUST_CHECK;

/* Writes a changed case in one transaction: the row from `after` (every column except id,
 * ref, created_at; version becomes expected_version + 1, updated_at now), the event `ev`
 * (may be NULL), the aggregate deltas[0..ndeltas) and one audit entry "case.<ev->action>"
 * (or "case.update") with before/after JSON of the fields that changed.
 * CD_ERR_CONFLICT when the stored version is not expected_version (someone changed it
 * meanwhile; nothing is written), CD_ERR_NOTFOUND when there is no such case,
 * CD_ERR_INVALID when the schema refuses the new values. On success after->version and
 * after->updated_at hold the stored values. */
enum cd_err store_case_apply(struct store *st, const struct store_actor *actor, int64_t case_id,
			     int64_t expected_version, struct store_case *after,
			     const struct store_case_event *ev, const struct store_stats_delta *deltas,
			     size_t ndeltas) CD_MUST_CHECK;

typedef int (*store_case_event_fn)(void *ctx, const struct store_case_event *ev);
/* Calls fn for each event of the case, oldest first; fn returning non-zero stops the walk.
 * CD_OK also when the case has no events (or does not exist). */
enum cd_err store_case_events(struct store *st, int64_t case_id, store_case_event_fn fn,
			      void *ctx) CD_MUST_CHECK;

/* A list filter: NULL or "" (0 for numbers) means "any". scope_* restrict it further, for the
 * caller's role (a street dispatcher's street, a unit's code); when both are given a case
 * must match both. */
struct store_case_filter {
	const char *status;
	const char *street_code;
	const char *community_code;
	const char *unit_code;
	const char *category_prefix; /* "H01" matches H01, H0101, H010101 ... */
	int uncategorized;           /* 1: only cases without a category (the triage queue) */
	const char *channel;
	int overdue;                 /* 0 any, 1 only overdue, -1 only not overdue */
	int64_t from, to;            /* reported_at in [from, to); 0 = open end */
	const char *q;               /* substring of title or description (scans; see store.md) */
	const char *scope_street;
	const char *scope_unit;
};

/* One page of cases, newest first (reported_at, then id, descending). */
struct store_case_page {
	struct store_case *cases; /* n entries, owned: free with store_case_page_release */
	size_t n;
	int64_t total;            /* matching cases, or a lower bound when total_capped */
	int total_capped;         /* 1 when there may be more (a list with q only: above
				   * STORE_CASES_COUNT_CAP, or the count ran out of time) */
};

/* Fills page with the cases matching f from `offset`, at most `limit` (capped at
 * STORE_CASES_PAGE_MAX). CD_ERR_RANGE for a negative offset or limit; CD_ERR_INVALID for a
 * category prefix that is not letters and digits. The ids come from the in-memory case list
 * index (docs/internals/store.md, "Cases"), the rows from the table by id. The total is exact
 * at any size, except with `q`: the substring is tested row by row in SQLite, CD_ERR_TOOBIG
 * when the page could not be found within 250 ms (a rare `q` over all cases: ask for a
 * narrower filter), and the total is counted up to STORE_CASES_COUNT_CAP within what is left
 * of 8 ms since the call (at least 1 ms, at most 10 ms); past that it is what was counted and
 * total_capped is 1 ("at least"). A community outside the given street matches nothing (codes
 * nest). The first list of a store builds the index from the table (about a second at
 * 1,000,000 cases). */
enum cd_err store_cases_list(struct store *st, const struct store_case_filter *f, int64_t offset,
			     int64_t limit, struct store_case_page *page) CD_MUST_CHECK;
/* Frees the cases of a page and zeroes it. NULL is fine. */
void store_case_page_release(struct store_case_page *page);

/* What the scheduler must mark: the case passed its warn_at without being marked warned
 * (due_warn) and/or passed its deadline without being marked overdue (due_overdue). */
typedef int (*store_case_due_fn)(void *ctx, int64_t case_id, const char *ref, int due_warn,
				 int due_overdue);
/* Calls fn for each case whose clock runs (reported registered dispatched accepted handled
 * verified) and whose warn_at or deadline is <= now but is not yet marked, earliest deadline
 * first (warn-only cases after), at most `max` calls (0 = 10,000). The caller marks them
 * with store_case_apply after the walk (not from fn: the store is locked during it). */
enum cd_err store_cases_due(struct store *st, int64_t now, size_t max, store_case_due_fn fn,
			    void *ctx) CD_MUST_CHECK;

/* Refreshes the planner statistics of the cases table (ANALYZE, sampled: milliseconds even on
 * millions of cases). The store also does this by itself as cases arrive; call it after a
 * bulk import done elsewhere or at start-up on a database written by another process. */
enum cd_err store_cases_optimize(struct store *st) CD_MUST_CHECK;

/* What the duplicate finder needs of a recent case. */
struct store_case_brief {
	int64_t id;
	char ref[STORE_CASE_REF_MAX];
	char status[STORE_CASE_WORD_MAX];
	char category_code[STORE_CATEGORY_MAX];
	char grid_code[STORE_CODE_MAX];
	int has_point;
	double lat, lng;
	int64_t reported_at;
	int64_t merged_into;
};
typedef int (*store_case_recent_fn)(void *ctx, const struct store_case_brief *c);
/* Calls fn for every case reported at or after `since` that is not rejected or merged,
 * oldest first; fn returning non-zero stops the walk. For loading the app's in-memory
 * duplicate finder at start-up (then kept up to date from each intake batch): the store has
 * no grid index, because one more index with thousands of keys costs a written page per
 * case at intake (docs/internals/store.md). */
enum cd_err store_cases_recent(struct store *st, int64_t since, store_case_recent_fn fn,
			       void *ctx) CD_MUST_CHECK;

/* Summed counters of one key over a day range, handed to store_scores' callback. */
struct store_score_row {
	const char *key; /* unit, street or category code; "" for cases without one */
	int64_t received, closed, closed_on_time, responded, responded_on_time, rework;
	int64_t rated, satisfied, basically_satisfied, dissatisfied;
	int64_t handling_seconds_sum;
};
typedef int (*store_score_fn)(void *ctx, const struct store_score_row *row);
/* Calls fn once per key of dimension `by` ("unit", "street" or "category") with the counters
 * summed over days from_day..to_day inclusive ("YYYY-MM-DD", Asia/Shanghai), in key order.
 * CD_ERR_INVALID for another `by` or a malformed day. */
enum cd_err store_scores(struct store *st, const char *by, const char *from_day, const char *to_day,
			 store_score_fn fn, void *ctx) CD_MUST_CHECK;

/* The Asia/Shanghai calendar day of a unix time as "YYYY-MM-DD" (what store_scores keys on). */
void store_day_of(int64_t t, char out[11]);

/* Metadata of an uploaded file (the bytes are on disk under DATA/files/<id>). */
struct store_file {
	char id[STORE_FILE_ID_MAX];     /* 32 lowercase hex digits (random 128 bits) */
	char mime[64];                  /* e.g. "image/jpeg" */
	int64_t bytes;
	char sha256[STORE_HASH_HEX];    /* hex digest of the bytes */
	char created_by[STORE_USERNAME_MAX];
	int64_t created_at;             /* 0 = now */
};

/* Records a file ("file.add"). CD_ERR_EXISTS for a taken id; CD_ERR_INVALID for a malformed id
 * or digest. */
enum cd_err store_file_add(struct store *st, const struct store_actor *actor,
			   const struct store_file *f) CD_MUST_CHECK;
/* CD_ERR_NOTFOUND when there is no such file. */
enum cd_err store_file_get(struct store *st, const char *id, struct store_file *out) CD_MUST_CHECK;


/* ---- webhooks (issue 3, Notify: sqlite_webhooks.c) ------------------------------------ */

#define STORE_WEBHOOK_NAME_MAX 64     /* a subscription's name, with NUL */
#define STORE_WEBHOOK_URL_MAX 1024    /* http:// or https:// URL, with NUL */
#define STORE_WEBHOOK_SECRET_MAX 128  /* the HMAC key as given to the receiver, with NUL */
#define STORE_WEBHOOK_EVENTS_MAX 512  /* comma-separated event types, with NUL */
#define STORE_WEBHOOK_TYPE_MAX 48     /* one event type, with NUL (events.h EVENTS_TYPE_MAX) */
#define STORE_WEBHOOK_REF_MAX 48      /* a case ref or alert id, with NUL */
#define STORE_WEBHOOK_ERROR_MAX 256   /* the last failure's reason, with NUL */
#define STORE_WEBHOOK_BATCH_MAX 1000  /* rows per store_webhook_deliveries_commit list */
#define STORE_WEBHOOKS_MAX 1000       /* subscriptions store_webhooks_list returns at most */
#define STORE_WEBHOOK_PAGE_MAX 500    /* deliveries per due or dead-letter list */

/* Opens another connection to the database at `path` (already opened and migrated by
 * store_open) for the webhook sender: its waits for SQLite's write lock, which the intake
 * journal's applier holds for long transactions, then stall only the sender and not every
 * caller of the main store's mutex. No journal recovery (store_open did it). Close with
 * store_close. */
enum cd_err store_webhook_conn_open(const char *path, struct store **out) CD_MUST_CHECK;

/* One subscription of another system to the event stream. */
struct store_webhook {
	int64_t id;                              /* assigned by store_webhook_add */
	char name[STORE_WEBHOOK_NAME_MAX];       /* unique, 1-63 bytes */
	char url[STORE_WEBHOOK_URL_MAX];         /* where deliveries are POSTed */
	char secret[STORE_WEBHOOK_SECRET_MAX];   /* HMAC key (>= 16 bytes); never audited */
	char events[STORE_WEBHOOK_EVENTS_MAX];   /* "case.created,case.overdue", "case.*"; "" = all */
	char street_code[STORE_CODE_MAX];        /* only cases in this street; "" = any */
	char unit_code[STORE_CODE_MAX];          /* only cases of this unit; "" = any */
	int64_t created_at;                      /* set by store_webhook_add when 0 */
};

/* Adds w (id ignored) and returns its id in *id_out (may be NULL); audited as "webhook.add"
 * without the secret. CD_ERR_EXISTS for a taken name; CD_ERR_INVALID for an empty or
 * over-long field, a URL that is not http(s) or a secret under 16 bytes. */
enum cd_err store_webhook_add(struct store *st, const struct store_actor *actor,
			      const struct store_webhook *w, int64_t *id_out) CD_MUST_CHECK;
/* Removes the subscription `name` with all its deliveries, pending and dead ("webhook.remove",
 * with the row and the number of deliveries dropped). CD_ERR_NOTFOUND when there is none. */
enum cd_err store_webhook_remove(struct store *st, const struct store_actor *actor,
				 const char *name) CD_MUST_CHECK;
/* CD_ERR_NOTFOUND when there is no subscription `name`. */
enum cd_err store_webhook_get(struct store *st, const char *name, struct store_webhook *out) CD_MUST_CHECK;
/* Every subscription (at most STORE_WEBHOOKS_MAX) in id order, secrets included, in a new
 * array (*out, *n) the caller frees with xfree. */
enum cd_err store_webhooks_list(struct store *st, struct store_webhook **out, size_t *n) CD_MUST_CHECK;

/* One delivery: an event for a subscription, pending (queued or waiting for its retry) or dead
 * (attempts exhausted: the dead-letter list). */
struct store_webhook_delivery {
	int64_t id;                               /* assigned by the store; X-Citydesk-Delivery */
	int64_t webhook_id;
	int64_t event_id;                         /* the bus's event id */
	char type[STORE_WEBHOOK_TYPE_MAX];        /* "case.created" ... */
	char ref[STORE_WEBHOOK_REF_MAX];          /* case ref or "" */
	char *body;                               /* the JSON body; borrowed as input, owned (freed
						     by store_webhook_deliveries_free) when returned */
	char status[16];                          /* "pending" or "dead" */
	int attempts;                             /* attempts made */
	int64_t next_at_ms;                       /* unix ms: not sent before */
	int64_t created_at;                       /* unix seconds; 0 = now on insert */
	int64_t last_at;                          /* unix seconds of the last attempt, 0 = none */
	int last_status;                          /* HTTP status of the last attempt, 0 = none */
	char last_error[STORE_WEBHOOK_ERROR_MAX]; /* "" when none */
	char webhook_name[STORE_WEBHOOK_NAME_MAX]; /* the subscription's name (lists) */
};

/* What became of one attempt. */
enum store_webhook_result {
	STORE_WEBHOOK_DELIVERED, /* 2xx: the delivery is deleted */
	STORE_WEBHOOK_RETRY,     /* failed: attempts + 1, next try at next_at_ms */
	STORE_WEBHOOK_DEAD,      /* failed for the last time: attempts + 1, into the dead-letter list */
};

struct store_webhook_outcome {
	int64_t delivery_id;
	enum store_webhook_result result;
	int64_t next_at_ms;                  /* RETRY: when to try again (unix ms) */
	int64_t at;                          /* unix seconds of the attempt */
	int http_status;                     /* 0 = no answer (connect error, timeout) */
	char error[STORE_WEBHOOK_ERROR_MAX]; /* short reason, "" on success */
};

/* The sender's one write: in ONE transaction, inserts add[0..nadd) as pending deliveries
 * (webhook_id, event_id, type, ref, body, next_at_ms, created_at read; id filled in) and
 * records done[0..ndone). Outcomes for deliveries that no longer exist (their subscription was
 * removed meanwhile) or are no longer pending are skipped. Not audited: deliveries are the
 * system's bookkeeping, not changes someone made (the subscription changes and manual retries
 * are). CD_ERR_RANGE when a list is longer than STORE_WEBHOOK_BATCH_MAX; CD_ERR_INVALID for a
 * delivery of an unknown subscription or without body (nothing is written then). */
enum cd_err store_webhook_deliveries_commit(struct store *st, struct store_webhook_delivery *add,
					    size_t nadd, const struct store_webhook_outcome *done,
					    size_t ndone) CD_MUST_CHECK;
/* The pending deliveries of subscription webhook_id that are due (next_at_ms <= now_ms),
 * earliest due first, at most `max` (capped at STORE_WEBHOOK_PAGE_MAX), leaving out the ids in
 * skip[0..nskip) (those in flight). A new array of *n entries with their bodies, freed with
 * store_webhook_deliveries_free. */
enum cd_err store_webhook_deliveries_due(struct store *st, int64_t webhook_id, int64_t now_ms,
					 const int64_t *skip, size_t nskip, size_t max,
					 struct store_webhook_delivery **out, size_t *n) CD_MUST_CHECK;
/* The dead-letter list, newest first: of subscription webhook_id (0 = all), at most `limit`
 * (capped at STORE_WEBHOOK_PAGE_MAX), with bodies and subscription names; freed with
 * store_webhook_deliveries_free. */
enum cd_err store_webhook_deadletters(struct store *st, int64_t webhook_id, size_t limit,
				      struct store_webhook_delivery **out, size_t *n) CD_MUST_CHECK;
/* Frees what the two lists above returned. NULL is fine. */
void store_webhook_deliveries_free(struct store_webhook_delivery *v, size_t n);
/* Moves dead delivery `delivery_id` back to pending with no attempts made, due at now_ms
 * ("webhook.retry"). CD_ERR_NOTFOUND when there is no dead delivery with that id. */
enum cd_err store_webhook_retry(struct store *st, const struct store_actor *actor, int64_t delivery_id,
				int64_t now_ms) CD_MUST_CHECK;
/* Pending and dead deliveries of subscription webhook_id, or of all when 0 (a scan: for
 * listings and /metrics, not for hot paths). Either out-pointer may be NULL. */
enum cd_err store_webhook_counts(struct store *st, int64_t webhook_id, int64_t *pending,
				 int64_t *dead) CD_MUST_CHECK;

#endif
