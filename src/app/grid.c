/* Builds store rows for the unit grid; see grid.h. */
#include "app/grid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/areas.h"
#include "core/locate.h"
#include "util/alloc.h"

void grid_cells_release(struct grid_cells *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		xfree(g->geoms[i]); /* from json_dumps */
	xfree(g->geoms);
	xfree(g->cells);
	g->geoms = NULL;
	g->cells = NULL;
	g->n = 0;
}

enum cd_err grid_build_for_communities(struct store *st, const struct geojson_features *communities,
				       struct grid_cells *out, char *reason, size_t cap)
{
	struct geojson_features district = {NULL, 0}, streets = {NULL, 0};
	struct locate_area *s = NULL, *c = NULL;
	struct locate_index *idx = NULL;
	memset(out, 0, sizeof *out);
	enum cd_err rc = areas_load(st, "district", &district, reason, cap);
	if (!rc)
		rc = areas_load(st, "street", &streets, reason, cap);
	if (rc)
		goto out;
	if (district.n != 1) {
		snprintf(reason, cap, "import the district outline before its communities");
		rc = CD_ERR_INVALID;
		goto out;
	}
	struct locate_area d = {district.items[0].code, district.items[0].name, &district.items[0].geom};
	s = areas_as_locate(&streets);
	c = areas_as_locate(communities);
	rc = locate_build(&d, s, streets.n, c, communities->n, NULL, &idx, reason, cap);
	if (rc)
		goto out;
	size_t n = locate_cell_count(idx);
	out->cells = xcalloc(n ? n : 1, sizeof *out->cells);
	out->geoms = xcalloc(n ? n : 1, sizeof *out->geoms);
	for (size_t i = 0; i < n; i++) {
		const struct locate_cell *cell = locate_cell_at(idx, i);
		struct store_grid_cell *row = &out->cells[i];
		json_t *g = geojson_geometry_new(&cell->poly);
		out->geoms[i] = g ? json_dumps(g, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
		json_decref(g);
		out->n = i + 1;
		if (!out->geoms[i]) {
			snprintf(reason, cap, "out of memory");
			rc = CD_ERR_NOMEM;
			goto out;
		}
		snprintf(row->code, sizeof row->code, "%s", cell->code);
		snprintf(row->community_code, sizeof row->community_code, "%s", communities->items[cell->community].code);
		row->min_lat = cell->bbox.min_lat;
		row->min_lng = cell->bbox.min_lng;
		row->max_lat = cell->bbox.max_lat;
		row->max_lng = cell->bbox.max_lng;
		row->geometry = out->geoms[i];
	}
out:
	if (rc)
		grid_cells_release(out);
	locate_free(idx);
	xfree(s);
	xfree(c);
	geojson_features_release(&district);
	geojson_features_release(&streets);
	return rc;
}
