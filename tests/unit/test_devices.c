/* Unit tests for the device registry: registration (checked, located on the Luohu map, audited
 * without secrets, all or nothing for imports), lookups by id and transmitter address, online
 * state from heartbeats and the offline sweep, credentials and their version, device secrets
 * (SHA-256 digests; an argon2id one verified once, then remembered), persistence across a reload, and devices
 * another process stores. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/devices.h"
#include "app/district.h"
#include "app/mapview.h"
#include "core/auth.h"
#include "net/broker.h"
#include "store/store_devices.h"
#include "test.h"
#include "tmpstore.h"
#include "util/alloc.h"

static const struct store_actor admin = {"admin", "10.0.0.7"};

/* A point inside Luohu (near the Shenzhen Grand Theatre, 罗湖区). */
#define IN_LAT 22.5453
#define IN_LNG 114.1157

struct fixture {
	struct tmpdb db;
	struct app app;
};

static void fixture_open(struct fixture *f, bool with_map)
{
	memset(f, 0, sizeof *f);
	tmpdb_make(&f->db);
	f->app.st = open_ok(&f->db);
	pthread_rwlock_init(&f->app.map_lock, NULL);
	if (with_map) {
		char reason[256] = "";
		CHECK_INT_EQ(district_load_default(f->app.st, &admin, "data/luohu", reason, sizeof reason),
			     CD_OK);
		CHECK_INT_EQ(mapview_load(f->app.st, &f->app.map), CD_OK);
	}
	CHECK_INT_EQ(devices_load(&f->app, &f->app.devices), CD_OK);
}

static void fixture_close(struct fixture *f)
{
	devices_free(f->app.devices);
	mapview_free(f->app.map);
	store_close(f->app.st);
	pthread_rwlock_destroy(&f->app.map_lock);
	tmpdb_remove(&f->db);
}

static struct iot_device make(const char *id, const char *type)
{
	struct iot_device d;
	memset(&d, 0, sizeof d);
	snprintf(d.id, sizeof d.id, "%s", id);
	snprintf(d.type, sizeof d.type, "%s", type);
	return d;
}

static struct fixture shared; /* with the map: loading Luohu takes a moment, so once */

static void test_create_located_and_audited(void)
{
	struct fixture *f = &shared;
	struct iot_device d = make("smoke-001", "smoke_detector");
	snprintf(d.name, sizeof d.name, "%s", "东门步行街 3 号楼烟感");
	snprintf(d.owner, sizeof d.owner, "%s", "东门物业");
	snprintf(d.tags, sizeof d.tags, "%s", "fire,building_3");
	snprintf(d.address_hex, sizeof d.address_hex, "%s", "79030000ABCD");
	d.has_point = true;
	d.lat = IN_LAT;
	d.lng = IN_LNG;
	char secret[65];
	struct json_problem p;
	CHECK_INT_EQ(devices_create(&f->app, &admin, &d, secret, &p), CD_OK);
	CHECK_INT_EQ(strlen(secret), DEVICES_SECRET_LEN);
	CHECK_INT_EQ(strlen(d.street_code), 9);
	CHECK_INT_EQ(strlen(d.community_code), 12);
	CHECK_INT_EQ(strlen(d.grid_code), 15);
	CHECK(strncmp(d.community_code, d.street_code, 9) == 0);
	CHECK_STR_EQ(d.address_hex, "79030000abcd"); /* kept in lower case */
	CHECK(d.active);

	struct iot_device got;
	CHECK(devices_get(f->app.devices, "smoke-001", &got));
	CHECK_STR_EQ(got.name, "东门步行街 3 号楼烟感");
	CHECK_STR_EQ(got.grid_code, d.grid_code);
	CHECK(!got.online);
	char id[IOT_ID_MAX];
	CHECK(devices_find_address(f->app.devices, "79030000ABCD", id));
	CHECK_STR_EQ(id, "smoke-001");
	CHECK(!devices_find_address(f->app.devices, "790300000000", id));
	CHECK(!devices_find_address(f->app.devices, "7903", id));

	/* stored, with hashes; audited without them */
	struct store_device row;
	CHECK_INT_EQ(store_device_get(f->app.st, "smoke-001", &row), CD_OK);
	CHECK(strncmp(row.secret_hash, "sha256$", 7) == 0 && strlen(row.secret_hash) == 7 + 64);
	CHECK(!strstr(row.secret_hash, secret));
	CHECK(strncmp(row.mqtt_hash, "$7$101$", 7) == 0);
	struct store_audit_entry *e = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_audit_list(f->app.st, 0, 1, &e, &n), CD_OK);
	CHECK_INT_EQ(n, 1);
	if (n == 1) {
		CHECK_STR_EQ(e[0].action, "device.add");
		CHECK_STR_EQ(e[0].target, "devices/smoke-001");
		CHECK(e[0].after && strstr(e[0].after, "\"grid_code\""));
		CHECK(e[0].after && !strstr(e[0].after, "sha256$") && !strstr(e[0].after, "$7$"));
		CHECK(e[0].after && !strstr(e[0].after, secret));
	}
	store_audit_list_free(e, n);

	/* the secret: good, wrong, unknown device; the second good check is remembered */
	CHECK(devices_check_secret(f->app.devices, "smoke-001", secret));
	CHECK(devices_check_secret(f->app.devices, "smoke-001", secret));
	CHECK(!devices_check_secret(f->app.devices, "smoke-001", "0123456789abcdef0123456789abcdef"));
	CHECK(!devices_check_secret(f->app.devices, "nobody", secret));
}

static void test_refused(void)
{
	struct fixture *f = &shared;
	struct {
		const char *id, *type, *tags, *addr;
		bool point;
		double lat, lng;
		const char *field;
		int status;
	} bad[] = {
	    {"has space", "camera", "", "", false, 0, 0, "id", 422},
	    {"", "camera", "", "", false, 0, 0, "id", 422},
	    {"ok-1", "toaster", "", "", false, 0, 0, "type", 422},
	    {"ok-2", "camera", "a,,b", "", false, 0, 0, "tags", 422},
	    {"ok-3", "camera", "a b", "", false, 0, 0, "tags", 422},
	    {"ok-4", "uitd", "", "79030000", false, 0, 0, "address_hex", 422},
	    {"ok-5", "uitd", "", "7903000000zz", false, 0, 0, "address_hex", 422},
	    {"ok-6", "camera", "", "", true, 22.3, 113.9, "lat", 422}, /* Shekou: not Luohu */
	    {"ok-7", "camera", "", "", true, 95.0, 114.1, "lat", 422},
	    {"smoke-001", "camera", "", "", false, 0, 0, "id", 409},		   /* taken */
	    {"ok-8", "uitd", "", "79030000abcd", false, 0, 0, "address_hex", 409}, /* taken */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct iot_device d = make(bad[i].id, bad[i].type);
		snprintf(d.tags, sizeof d.tags, "%s", bad[i].tags);
		snprintf(d.address_hex, sizeof d.address_hex, "%s", bad[i].addr);
		d.has_point = bad[i].point;
		d.lat = bad[i].lat;
		d.lng = bad[i].lng;
		char secret[65];
		struct json_problem p;
		memset(&p, 0, sizeof p);
		enum cd_err rc = devices_create(&f->app, &admin, &d, secret, &p);
		CHECK(rc != CD_OK);
		CHECK_INT_EQ(p.status, bad[i].status);
		CHECK_STR_EQ(p.field, bad[i].field);
		struct iot_device got;
		if (strcmp(bad[i].id, "smoke-001") != 0)
			CHECK(!devices_get(f->app.devices, bad[i].id, &got));
	}
}

static void test_import_all_or_nothing(void)
{
	struct fixture *f = &shared;
	const char *csv = "id,type,name,lat,lng,tags\n"
			  "wm-1,water_meter,\"独居老人 张, 1 栋\",22.5453,114.1157,elderly_alone\n"
			  "wm-2,water_meter,2 栋,,,elderly_alone\n"
			  "wm-3,water_meter,3 栋,22.3,113.9,elderly_alone\n"; /* outside: refuses all */
	struct iot_device *v = NULL;
	size_t n = 0;
	struct json_problem p;
	CHECK_INT_EQ(devices_parse_csv(csv, strlen(csv), &v, &n, &p), CD_OK);
	CHECK_INT_EQ(n, 3);
	if (n == 3) {
		CHECK_STR_EQ(v[0].name, "独居老人 张, 1 栋");
		CHECK(v[0].has_point && !v[1].has_point);
		char(*secrets)[65] = xcalloc(n, sizeof *secrets);
		size_t bad = 99;
		CHECK_INT_EQ(devices_create_many(&f->app, &admin, v, n, secrets, &bad, &p), CD_ERR_INVALID);
		CHECK_INT_EQ(bad, 2);
		CHECK_STR_EQ(p.field, "lat");
		struct iot_device got;
		CHECK(!devices_get(f->app.devices, "wm-1", &got));
		struct store_device row;
		CHECK_INT_EQ(store_device_get(f->app.st, "wm-1", &row), CD_ERR_NOTFOUND);
		/* without the bad row all go in */
		CHECK_INT_EQ(devices_create_many(&f->app, &admin, v, 2, secrets, &bad, &p), CD_OK);
		CHECK(devices_get(f->app.devices, "wm-2", &got));
		CHECK(strlen(secrets[0]) == 64 && strlen(secrets[1]) == 64 &&
		      strcmp(secrets[0], secrets[1]) != 0);
		xfree(secrets);
	}
	xfree(v);
	static const char *const broken[] = {
	    "type,name\ncamera,x\n",		  /* no id column */
	    "id,type,colour\ncam-1,camera,red\n", /* unknown column */
	    "id,type,lat\ncam-1,camera,22.5\n",	  /* lat without lng */
	    "id,type,lat,lng\ncam-1,camera,north,114.1\n",
	    "id,type\n\"cam-1,camera\n", /* unterminated quote */
	};
	for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
		v = NULL;
		CHECK_INT_EQ(devices_parse_csv(broken[i], strlen(broken[i]), &v, &n, &p), CD_ERR_INVALID);
		CHECK(v == NULL);
	}
}

struct offline_log {
	char ids[8][IOT_ID_MAX];
	size_t n;
};

static void on_offline(void *ctx, const struct iot_device *d)
{
	struct offline_log *l = ctx;
	if (l->n < 8)
		snprintf(l->ids[l->n++], IOT_ID_MAX, "%s", d->id);
}

static void count_each(void *ctx, const struct iot_device *d)
{
	(void)d;
	(*(size_t *)ctx)++;
}

static void cred_each(void *ctx, const char *id, const char *hash)
{
	(void)id;
	if (strncmp(hash, "$7$101$", 7) == 0)
		(*(size_t *)ctx)++;
}

static void test_online_sweep_credentials(void)
{
	struct fixture f;
	fixture_open(&f, false);
	char secret[65];
	struct json_problem p;
	uint64_t v0 = devices_version(f.app.devices);
	for (int i = 0; i < 3; i++) {
		char id[16];
		snprintf(id, sizeof id, "em-%d", i);
		struct iot_device d = make(id, "energy_meter");
		CHECK_INT_EQ(devices_create(&f.app, &admin, &d, secret, &p), CD_OK);
	}
	uint64_t v1 = devices_version(f.app.devices);
	CHECK(v1 != v0);
	size_t creds = 0;
	CHECK(devices_credentials(f.app.devices, cred_each, &creds) == v1);
	CHECK_INT_EQ(creds, 3);

	CHECK(devices_seen(f.app.devices, "em-0", 1000)); /* came online */
	CHECK(!devices_seen(f.app.devices, "em-0", 900)); /* already; last seen does not go back */
	CHECK(!devices_seen(f.app.devices, "ghost", 1000));
	CHECK(devices_set_online(f.app.devices, "em-1", true, 2000));
	CHECK(!devices_set_online(f.app.devices, "em-1", true, 2500));
	CHECK(devices_set_online(f.app.devices, "em-2", true, 5000));
	CHECK(devices_set_online(f.app.devices, "em-2", false, 5100));
	CHECK(!devices_set_online(f.app.devices, "em-2", false, 5200));
	struct iot_device got;
	CHECK(devices_get(f.app.devices, "em-0", &got));
	CHECK_INT_EQ(got.last_seen_ms, 1000);
	size_t total = 0, online = 0;
	devices_count(f.app.devices, &total, &online);
	CHECK_INT_EQ(total, 3);
	CHECK_INT_EQ(online, 2);

	/* em-0 last seen at 1000, em-1 at 2500: at 3000 with a 1500 ms timeout only em-0 goes */
	struct offline_log log;
	memset(&log, 0, sizeof log);
	devices_sweep(f.app.devices, 3000, 1500, on_offline, &log);
	CHECK_INT_EQ(log.n, 1);
	CHECK_STR_EQ(log.ids[0], "em-0");
	devices_count(f.app.devices, NULL, &online);
	CHECK_INT_EQ(online, 1);
	size_t each = 0;
	devices_each(f.app.devices, count_each, &each);
	CHECK_INT_EQ(each, 3);

	/* saved on free, found on reload */
	devices_free(f.app.devices);
	CHECK_INT_EQ(devices_load(&f.app, &f.app.devices), CD_OK);
	CHECK(devices_get(f.app.devices, "em-1", &got));
	CHECK(got.online);
	CHECK_INT_EQ(got.last_seen_ms, 2500);
	CHECK(devices_get(f.app.devices, "em-0", &got));
	CHECK(!got.online);
	CHECK_INT_EQ(got.last_seen_ms, 1000);

	/* another process registers a device and replaces a secret: picked up by a sync */
	struct app other = f.app;
	other.devices = NULL;
	struct iot_device d = make("cam-9", "camera");
	CHECK_INT_EQ(devices_create(&other, &admin, &d, secret, &p), CD_OK);
	CHECK(!devices_get(f.app.devices, "cam-9", &got));
	uint64_t v2 = devices_version(f.app.devices);
	devices_sync(f.app.devices);
	CHECK(devices_get(f.app.devices, "cam-9", &got));
	CHECK(devices_version(f.app.devices) != v2);
	CHECK(devices_check_secret(f.app.devices, "cam-9", secret));
	char h[STORE_PWHASH_MAX], mh[BROKER_HASH_MAX];
	CHECK_INT_EQ(auth_password_hash("another-secret-123", h), CD_OK);
	CHECK_INT_EQ(broker_password_hash("another-secret-123", mh), CD_OK);
	CHECK_INT_EQ(store_device_set_secret(f.app.st, &admin, "cam-9", h, mh, NULL), CD_OK);
	devices_sync(f.app.devices);
	CHECK(!devices_check_secret(f.app.devices, "cam-9", secret)); /* the remembered one is forgotten */
	CHECK(devices_check_secret(f.app.devices, "cam-9", "another-secret-123"));

	/* a decommissioned device is found but its secret no longer works */
	struct store_device row;
	CHECK_INT_EQ(store_device_get(f.app.st, "cam-9", &row), CD_OK);
	row.active = 0;
	CHECK_INT_EQ(store_device_update(f.app.st, &admin, &row), CD_OK);
	devices_sync(f.app.devices);
	CHECK(devices_get(f.app.devices, "cam-9", &got));
	CHECK(!got.active);
	CHECK(!devices_check_secret(f.app.devices, "cam-9", "another-secret-123"));
	creds = 0;
	devices_credentials(f.app.devices, cred_each, &creds);
	CHECK_INT_EQ(creds, 3);
	fixture_close(&f);
}

static void test_store_batch_conflict(void)
{
	struct fixture f;
	fixture_open(&f, false);
	struct store_device v[2];
	memset(v, 0, sizeof v);
	for (int i = 0; i < 2; i++) {
		snprintf(v[i].id, sizeof v[i].id, "rf-%d", i);
		snprintf(v[i].type, sizeof v[i].type, "rfid_reader");
		snprintf(v[i].secret_hash, sizeof v[i].secret_hash, "x");
		snprintf(v[i].mqtt_hash, sizeof v[i].mqtt_hash, "y");
		snprintf(v[i].address_hex, sizeof v[i].address_hex, "000000000001"); /* both: conflict */
		v[i].active = 1;
	}
	size_t bad = 9;
	CHECK_INT_EQ(store_devices_add(f.app.st, &admin, v, 2, &bad), CD_ERR_EXISTS);
	CHECK_INT_EQ(bad, 1);
	struct store_device row;
	CHECK_INT_EQ(store_device_get(f.app.st, "rf-0", &row), CD_ERR_NOTFOUND); /* rolled back */
	snprintf(v[0].type, sizeof v[0].type, "toaster");
	CHECK_INT_EQ(store_devices_add(f.app.st, &admin, v, 1, &bad), CD_ERR_INVALID); /* the CHECK */
	int64_t first_bad = -1;
	CHECK_INT_EQ(store_audit_verify(f.app.st, &first_bad, NULL, 0), CD_OK);
	fixture_close(&f);
}

/* devices_update and devices_decommission: checked, located again, address moves, the
 * registry follows at once; decommissioning moves devices_version, drops the device from the
 * broker's credentials, refuses its secret, makes it offline, and is audited once. */
static void test_update_and_decommission(void)
{
	struct fixture *f = &shared;
	struct iot_device d = make("uitd-77", "uitd");
	snprintf(d.address_hex, sizeof d.address_hex, "%s", "790300000077");
	d.has_point = true;
	d.lat = IN_LAT;
	d.lng = IN_LNG;
	char secret[65];
	struct json_problem p;
	memset(&p, 0, sizeof p);
	CHECK_INT_EQ(devices_create(&f->app, &admin, &d, secret, &p), CD_OK);
	CHECK(devices_check_secret(f->app.devices, "uitd-77", secret));
	devices_seen(f->app.devices, "uitd-77", 5000);

	struct iot_device u;
	CHECK(devices_get(f->app.devices, "uitd-77", &u));
	snprintf(u.name, sizeof u.name, "%s", "新名字");
	snprintf(u.address_hex, sizeof u.address_hex, "%s", "7903000000AA");
	snprintf(u.type, sizeof u.type, "%s", "camera"); /* ignored: the type stays */
	u.has_point = false;
	memset(&p, 0, sizeof p);
	CHECK_INT_EQ(devices_update(&f->app, &admin, &u, &p), CD_OK);
	CHECK_STR_EQ(u.type, "uitd");
	CHECK_STR_EQ(u.street_code, "");
	CHECK(u.online); /* a change of fields keeps the online state */
	char id[IOT_ID_MAX];
	CHECK(devices_find_address(f->app.devices, "7903000000aa", id));
	CHECK_STR_EQ(id, "uitd-77");
	CHECK(!devices_find_address(f->app.devices, "790300000077", id));
	/* refusals */
	u.has_point = true;
	u.lat = 22.48; /* Nanshan */
	u.lng = 113.91;
	memset(&p, 0, sizeof p);
	CHECK_INT_EQ(devices_update(&f->app, &admin, &u, &p), CD_ERR_INVALID);
	CHECK_INT_EQ(p.status, 422);
	struct iot_device missing = make("nope-77", "uitd");
	memset(&p, 0, sizeof p);
	CHECK_INT_EQ(devices_update(&f->app, &admin, &missing, &p), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(p.status, 404);

	int64_t audit_before = 0, audit_after = 0;
	CHECK_INT_EQ(store_audit_count(f->app.st, &audit_before), CD_OK);
	uint64_t v = devices_version(f->app.devices);
	size_t online_before = 0;
	devices_count(f->app.devices, NULL, &online_before);
	memset(&p, 0, sizeof p);
	CHECK_INT_EQ(devices_decommission(&f->app, &admin, "uitd-77", &u, &p), CD_OK);
	CHECK(!u.active);
	CHECK(!u.online);
	CHECK_STR_EQ(u.name, "新名字");
	CHECK(devices_version(f->app.devices) != v);
	size_t online_after = 0;
	devices_count(f->app.devices, NULL, &online_after);
	CHECK_INT_EQ(online_after + 1, online_before);
	CHECK(!devices_check_secret(f->app.devices, "uitd-77", secret));
	CHECK_INT_EQ(store_audit_count(f->app.st, &audit_after), CD_OK);
	CHECK_INT_EQ(audit_after - audit_before, 1); /* one "device.decommission", hashes and all */
	memset(&p, 0, sizeof p);
	CHECK_INT_EQ(devices_decommission(&f->app, &admin, "uitd-77", NULL, &p), CD_ERR_CONFLICT);
	CHECK_INT_EQ(p.status, 409);
	/* reactivated: active, but the withdrawn secret stays withdrawn */
	u.active = true;
	memset(&p, 0, sizeof p);
	CHECK_INT_EQ(devices_update(&f->app, &admin, &u, &p), CD_OK);
	CHECK(u.active);
	CHECK(!devices_check_secret(f->app.devices, "uitd-77", secret));
	int64_t first_bad = -1;
	CHECK_INT_EQ(store_audit_verify(f->app.st, &first_bad, NULL, 0), CD_OK);
	CHECK_INT_EQ(first_bad, 0);
}

static void test_setup(void)
{
	CHECK_INT_EQ(auth_init(), CD_OK);
	fixture_open(&shared, true);
}

static void test_teardown(void)
{
	fixture_close(&shared);
}

static const struct test_case tests[] = {
    {"setup", test_setup},
    {"create_located_and_audited", test_create_located_and_audited},
    {"refused", test_refused},
    {"import_all_or_nothing", test_import_all_or_nothing},
    {"online_sweep_credentials", test_online_sweep_credentials},
    {"store_batch_conflict", test_store_batch_conflict},
    {"update_and_decommission", test_update_and_decommission},
    {"teardown", test_teardown},
};
TEST_MAIN(tests)
