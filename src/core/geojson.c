/* GeoJSON boundary reader and geometry writer over jansson; see geojson.h. The reader counts
 * every position and ring against hard caps before allocating for it, and on any failure frees
 * everything it built, so a caller sees either all features or none. */
#include "core/geojson.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/gcj02.h"
#include "util/alloc.h"

/* State shared by the whole parse. */
struct reader {
	enum geojson_crs crs;
	size_t positions; /* positions read so far, against GEOJSON_MAX_POSITIONS */
	size_t rings;     /* rings read so far, against GEOJSON_MAX_RINGS */
	char *err;        /* the caller's message buffer */
	size_t err_len;
	char prefix[160]; /* "feature 3 (440303001 桂园街道)" for the feature being read */
};

static void fail(struct reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "<prefix>: <message>" into the caller's buffer. */
static void fail(struct reader *rd, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rd->err_len)
		snprintf(rd->err, rd->err_len, "%s: %s", rd->prefix, msg);
}

void geojson_features_release(struct geojson_features *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		xfree(f->items[i].code);
		xfree(f->items[i].name);
		geo_multipolygon_release(&f->items[i].geom);
	}
	xfree(f->items);
	f->items = NULL;
	f->n = 0;
}

/* Copies a bounded string; NULL on allocation failure. */
static char *dup_field(const char *s, size_t n)
{
	char *d = try_malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* Reads properties.code (or .adcode) and .name. Returns CD_OK with NULL fields when absent. */
static enum cd_err read_properties(struct reader *rd, json_t *props, struct geojson_feature *f)
{
	if (!props || json_is_null(props))
		return CD_OK;
	if (!json_is_object(props)) {
		fail(rd, "properties must be an object");
		return CD_ERR_INVALID;
	}
	json_t *code = json_object_get(props, "code");
	const char *key = "code";
	if (!code || json_is_null(code)) {
		code = json_object_get(props, "adcode");
		key = "adcode";
	}
	char num[32];
	const char *cs = NULL;
	size_t cn = 0;
	if (code && json_is_string(code)) {
		cs = json_string_value(code);
		cn = json_string_length(code);
	} else if (code && json_is_integer(code)) {
		cn = (size_t)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(code));
		cs = num;
	} else if (code && json_is_real(code)) {
		double v = json_real_value(code);
		if (!(v >= 0 && v < 1e18 && v == floor(v))) {
			fail(rd, "property %s must be a string or a whole number", key);
			return CD_ERR_INVALID;
		}
		cn = (size_t)snprintf(num, sizeof(num), "%.0f", v);
		cs = num;
	} else if (code && !json_is_null(code)) {
		fail(rd, "property %s must be a string or a number", key);
		return CD_ERR_INVALID;
	}
	json_t *name = json_object_get(props, "name");
	if (name && !json_is_null(name) && !json_is_string(name)) {
		fail(rd, "property name must be a string");
		return CD_ERR_INVALID;
	}
	if ((cs && cn > GEOJSON_MAX_FIELD) || (name && json_is_string(name) &&
					       json_string_length(name) > GEOJSON_MAX_FIELD)) {
		fail(rd, "property code or name is longer than %d bytes", GEOJSON_MAX_FIELD);
		return CD_ERR_TOOBIG;
	}
	if (cs && strlen(cs) != cn) {
		fail(rd, "property %s contains a NUL character", key);
		return CD_ERR_INVALID;
	}
	if (name && json_is_string(name) && strlen(json_string_value(name)) != json_string_length(name)) {
		fail(rd, "property name contains a NUL character");
		return CD_ERR_INVALID;
	}
	if (cs) {
		f->code = dup_field(cs, cn);
		if (!f->code)
			return CD_ERR_NOMEM;
	}
	if (name && json_is_string(name)) {
		f->name = dup_field(json_string_value(name), json_string_length(name));
		if (!f->name)
			return CD_ERR_NOMEM;
	}
	/* The message prefix now names the feature. */
	size_t plen = strlen(rd->prefix);
	if (f->code || f->name)
		snprintf(rd->prefix + plen, sizeof(rd->prefix) - plen, " (%s%s%s)",
			 f->code ? f->code : "", f->code && f->name ? " " : "", f->name ? f->name : "");
	return CD_OK;
}

/* Reads one linear ring (array of positions) into *ring. */
static enum cd_err read_ring(struct reader *rd, json_t *arr, const char *where,
			     struct geo_ring *ring)
{
	if (!json_is_array(arr)) {
		fail(rd, "%s is not an array of positions", where);
		return CD_ERR_INVALID;
	}
	size_t n = json_array_size(arr);
	if (++rd->rings > GEOJSON_MAX_RINGS) {
		fail(rd, "more than %d rings in the document", GEOJSON_MAX_RINGS);
		return CD_ERR_TOOBIG;
	}
	if (n > GEOJSON_MAX_POSITIONS - rd->positions) {
		fail(rd, "more than %d positions in the document", GEOJSON_MAX_POSITIONS);
		return CD_ERR_TOOBIG;
	}
	rd->positions += n;
	ring->pts = try_malloc((n ? n : 1) * sizeof(*ring->pts));
	if (!ring->pts)
		return CD_ERR_NOMEM;
	ring->n = n;
	for (size_t i = 0; i < n; i++) {
		json_t *pos = json_array_get(arr, i);
		json_t *x = json_array_get(pos, 0), *y = json_array_get(pos, 1);
		if (!json_is_array(pos) || !json_is_number(x) || !json_is_number(y)) {
			fail(rd, "%s position %zu is not [lng, lat]", where, i);
			return CD_ERR_INVALID;
		}
		struct geo_point p = {json_number_value(x), json_number_value(y)};
		if (rd->crs == GEOJSON_GCJ02 && isfinite(p.lng) && isfinite(p.lat))
			p = gcj02_to_wgs84(p);
		ring->pts[i] = p;
	}
	return CD_OK;
}

/* Reads the rings of one Polygon's coordinates into *poly. */
static enum cd_err read_polygon(struct reader *rd, json_t *arr, size_t index, bool multi,
				struct geo_polygon *poly)
{
	char where[64];
	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		if (multi)
			fail(rd, "polygon %zu has no rings", index);
		else
			fail(rd, "polygon has no rings");
		return CD_ERR_INVALID;
	}
	size_t n = json_array_size(arr);
	if (n > GEOJSON_MAX_RINGS) {
		fail(rd, "more than %d rings in the document", GEOJSON_MAX_RINGS);
		return CD_ERR_TOOBIG;
	}
	poly->rings = try_calloc(n, sizeof(*poly->rings));
	if (!poly->rings)
		return CD_ERR_NOMEM;
	poly->n_rings = n;
	for (size_t r = 0; r < n; r++) {
		if (multi)
			snprintf(where, sizeof(where), "polygon %zu ring %zu", index, r);
		else
			snprintf(where, sizeof(where), "ring %zu", r);
		enum cd_err rc = read_ring(rd, json_array_get(arr, r), where, &poly->rings[r]);
		if (rc)
			return rc;
	}
	return CD_OK;
}

/* Reads a Polygon or MultiPolygon geometry into *mp (partially filled on failure; the caller
 * releases it). */
static enum cd_err read_geometry(struct reader *rd, json_t *geom, struct geo_multipolygon *mp)
{
	if (!geom || json_is_null(geom)) {
		fail(rd, "has no geometry");
		return CD_ERR_INVALID;
	}
	const char *type = json_string_value(json_object_get(geom, "type"));
	if (!json_is_object(geom) || !type) {
		fail(rd, "geometry has no type");
		return CD_ERR_INVALID;
	}
	bool multi = strcmp(type, "MultiPolygon") == 0;
	if (!multi && strcmp(type, "Polygon") != 0) {
		fail(rd, "geometry type %.40s is not supported (Polygon or MultiPolygon)", type);
		return CD_ERR_INVALID;
	}
	json_t *coords = json_object_get(geom, "coordinates");
	if (!json_is_array(coords) || json_array_size(coords) == 0) {
		fail(rd, "geometry coordinates are missing or empty");
		return CD_ERR_INVALID;
	}
	size_t n = multi ? json_array_size(coords) : 1;
	if (n > GEOJSON_MAX_RINGS) {
		fail(rd, "more than %d rings in the document", GEOJSON_MAX_RINGS);
		return CD_ERR_TOOBIG;
	}
	mp->polys = try_calloc(n, sizeof(*mp->polys));
	if (!mp->polys)
		return CD_ERR_NOMEM;
	mp->n_polys = n;
	for (size_t i = 0; i < n; i++) {
		json_t *pc = multi ? json_array_get(coords, i) : coords;
		enum cd_err rc = read_polygon(rd, pc, i, multi, &mp->polys[i]);
		if (rc)
			return rc;
	}
	char reason[200];
	enum cd_err rc = geo_multipolygon_validate(mp, reason, sizeof(reason));
	if (rc) {
		fail(rd, "%s", reason);
		return rc;
	}
	return CD_OK;
}

static enum cd_err read_feature(struct reader *rd, json_t *feat, size_t index,
				struct geojson_feature *f)
{
	snprintf(rd->prefix, sizeof(rd->prefix), "feature %zu", index);
	const char *type = json_string_value(json_object_get(feat, "type"));
	if (!json_is_object(feat) || !type || strcmp(type, "Feature") != 0) {
		fail(rd, "is not a GeoJSON Feature object");
		return CD_ERR_INVALID;
	}
	enum cd_err rc = read_properties(rd, json_object_get(feat, "properties"), f);
	if (rc) {
		if (rc == CD_ERR_NOMEM)
			fail(rd, "out of memory");
		return rc;
	}
	rc = read_geometry(rd, json_object_get(feat, "geometry"), &f->geom);
	if (rc == CD_ERR_NOMEM)
		fail(rd, "out of memory");
	return rc;
}

enum cd_err geojson_read(const char *text, size_t len, enum geojson_crs crs,
			 struct geojson_features *out, char *err, size_t err_len)
{
	enum cd_err rc = CD_ERR_INVALID;
	struct reader rd = {.crs = crs, .err = err, .err_len = err_len, .prefix = "GeoJSON"};
	struct geojson_features res = {NULL, 0};
	json_t *root = NULL;
	out->items = NULL;
	out->n = 0;
	if (err_len)
		err[0] = '\0';
	if (len > GEOJSON_MAX_BYTES) {
		fail(&rd, "document is larger than %u bytes", GEOJSON_MAX_BYTES);
		return CD_ERR_TOOBIG;
	}
	json_error_t jerr;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		fail(&rd, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return CD_ERR_INVALID;
	}
	const char *type = json_string_value(json_object_get(root, "type"));
	json_t *list = NULL;
	size_t n = 1;
	if (json_is_object(root) && type && strcmp(type, "FeatureCollection") == 0) {
		list = json_object_get(root, "features");
		if (!json_is_array(list)) {
			fail(&rd, "FeatureCollection has no features array");
			goto done;
		}
		n = json_array_size(list);
	} else if (!json_is_object(root) || !type || strcmp(type, "Feature") != 0) {
		fail(&rd, "top level must be a FeatureCollection or a Feature");
		goto done;
	}
	if (n == 0) {
		fail(&rd, "FeatureCollection has no features");
		goto done;
	}
	if (n > GEOJSON_MAX_FEATURES) {
		fail(&rd, "more than %d features", GEOJSON_MAX_FEATURES);
		rc = CD_ERR_TOOBIG;
		goto done;
	}
	res.items = try_calloc(n, sizeof(*res.items));
	if (!res.items) {
		fail(&rd, "out of memory");
		rc = CD_ERR_NOMEM;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		res.n = i + 1; /* so a failure releases the partly read feature too */
		rc = read_feature(&rd, list ? json_array_get(list, i) : root, i, &res.items[i]);
		if (rc)
			goto done;
	}
	*out = res;
	res.items = NULL;
	res.n = 0;
	rc = CD_OK;
done:
	geojson_features_release(&res);
	json_decref(root);
	return rc;
}

/* ---- writer ---- */

static json_t *ring_json(const struct geo_ring *r)
{
	json_t *arr = json_array();
	if (!arr)
		return NULL;
	for (size_t i = 0; i < r->n; i++) {
		json_t *pos = json_array();
		if (!pos || json_array_append_new(arr, pos) ||
		    json_array_append_new(pos, json_real(r->pts[i].lng)) ||
		    json_array_append_new(pos, json_real(r->pts[i].lat))) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *polygon_json(const struct geo_polygon *p)
{
	json_t *arr = json_array();
	if (!arr)
		return NULL;
	for (size_t r = 0; r < p->n_rings; r++) {
		json_t *ring = ring_json(&p->rings[r]);
		if (!ring || json_array_append_new(arr, ring)) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

json_t *geojson_geometry_new(const struct geo_multipolygon *mp)
{
	json_t *coords;
	const char *type;
	if (mp->n_polys == 1) {
		type = "Polygon";
		coords = polygon_json(&mp->polys[0]);
	} else {
		type = "MultiPolygon";
		coords = json_array();
		for (size_t i = 0; coords && i < mp->n_polys; i++) {
			json_t *p = polygon_json(&mp->polys[i]);
			if (!p || json_array_append_new(coords, p)) {
				json_decref(coords);
				coords = NULL;
			}
		}
	}
	if (!coords)
		return NULL;
	json_t *g = json_object();
	if (!g || json_object_set_new(g, "type", json_string(type)) ||
	    json_object_set_new(g, "coordinates", coords)) {
		json_decref(g);
		return NULL;
	}
	return g;
}

json_t *geojson_feature_new(const char *code, const char *name, const struct geo_multipolygon *mp)
{
	json_t *geom = geojson_geometry_new(mp);
	json_t *props = json_object();
	json_t *f = json_object();
	if (!geom || !props || !f)
		goto fail;
	if (code && json_object_set_new(props, "code", json_string(code)))
		goto fail;
	if (name && json_object_set_new(props, "name", json_string(name)))
		goto fail;
	if (json_object_set_new(f, "type", json_string("Feature")))
		goto fail;
	json_t *p = props, *g = geom;
	props = geom = NULL; /* set_new takes them even when it fails */
	if (json_object_set_new(f, "properties", p) || json_object_set_new(f, "geometry", g))
		goto fail;
	return f;
fail:
	json_decref(geom);
	json_decref(props);
	json_decref(f);
	return NULL;
}
