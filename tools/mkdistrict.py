#!/usr/bin/python3
"""Build the DEMO street and community polygons of the default district (data/luohu).

No official street (街道) or community (社区) polygons are public, so this tool builds
approximations from the real district outline, the one approximate seed point per street and
the real community list: streets are Voronoi cells around the street seeds clipped to the
outline; each street is split into its communities by Voronoi cells around deterministic seeds
(a metro station whose name equals the community name, else fixed-seed random points relaxed
by Lloyd iterations so cells have similar areas). The output is NOT an official boundary.

All lines (outline, street cell edges, community cell edges) are noded together, rounded to
7 decimals and polygonized once, so streets and communities share exactly the same vertices:
communities partition their street and streets partition the outline with no slivers.

Usage: /usr/bin/python3 tools/mkdistrict.py [DISTRICT_DIR]   (default data/luohu)
Needs Debian's python3-shapely (1.8 or 2.x). Output is byte-for-byte deterministic.
"""

import csv
import json
import math
import os
import random
import sys

from shapely.geometry import LineString, MultiLineString, MultiPoint, Point, shape
from shapely.geometry.polygon import orient
from shapely.ops import polygonize, transform, unary_union, voronoi_diagram

DIGITS = 7                # output precision (~1 cm); the source outline also has 7 decimals
LLOYD_ITERATIONS = 12     # enough for similar-area cells; more only moves seeds by metres
STUB_DEG = 1e-5           # community edges reach ~1 m past their street so noding cuts them
WGS84_A = 6378137.0       # semi-major axis, for km² figures
WGS84_E = math.sqrt(0.00669437999014)  # first eccentricity
SNAP_WINDOW = 1000        # grid steps (~11 m) searched along the outline for a crossing node
NOTE = ("APPROXIMATION for demos, built by tools/mkdistrict.py; NOT an official boundary. "
        "Import real ones with: citydesk import boundaries --level street|community FILE.geojson")


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def load_outline(path):
    with open(path, encoding="utf-8") as f:
        fc = json.load(f)
    geoms = [shape(ft["geometry"]) for ft in fc["features"]]
    outline = unary_union(geoms)
    if not outline.is_valid:
        sys.exit("mkdistrict: outline is not a valid polygon")
    return outline


class Frame:
    """Local metric frame (equirectangular at the outline centre): Voronoi and Lloyd need
    isotropic distances; in degrees a cell would be stretched ~8 % east-west at 22.5°N."""

    def __init__(self, lon0, lat0):
        self.lon0, self.lat0 = lon0, lat0
        self.kx = 111320.0 * math.cos(math.radians(lat0))
        self.ky = 110574.0

    def fwd(self, g):
        return transform(lambda x, y, z=None: ((x - self.lon0) * self.kx,
                                               (y - self.lat0) * self.ky), g)

    def inv(self, g):
        return transform(lambda x, y, z=None: (x / self.kx + self.lon0,
                                               y / self.ky + self.lat0), g)


def area_km2(g):
    """Area on the WGS-84 ellipsoid via the Lambert cylindrical equal-area projection
    (exact for the ellipsoid up to treating edges as straight in that projection)."""
    def q(lat):
        sn = math.sin(math.radians(lat))
        es = WGS84_E * sn
        return (1 - WGS84_E ** 2) * (sn / (1 - es * es) -
                                     math.log((1 - es) / (1 + es)) / (2 * WGS84_E))
    ea = transform(lambda x, y, z=None: (math.radians(x) * WGS84_A, q(y) * WGS84_A / 2), g)
    return ea.area / 1e6


def voronoi_cells(points, region):
    """Voronoi cells (metric frame) for points, in input order, covering region's envelope
    generously. Returns a list of Polygons (unclipped)."""
    env = region.envelope.buffer(max(region.bounds[2] - region.bounds[0],
                                     region.bounds[3] - region.bounds[1]))
    vd = voronoi_diagram(MultiPoint(points), envelope=env)
    cells = list(vd.geoms)
    out = []
    for p in points:
        pt = Point(p)
        match = [c for c in cells if c.intersects(pt)]
        # a seed lies inside exactly one cell (on no edge, seeds are distinct)
        best = min(match, key=lambda c: c.distance(pt)) if match else \
            min(cells, key=lambda c: c.distance(pt))
        out.append(best)
    return out


def random_points_in(poly, n, rng):
    minx, miny, maxx, maxy = poly.bounds
    pts = []
    while len(pts) < n:
        x = minx + (maxx - minx) * rng.random()
        y = miny + (maxy - miny) * rng.random()
        if poly.contains(Point(x, y)):
            pts.append((x, y))
    return pts


def community_seeds(street_m, n, fixed, rng):
    """n seeds in street_m (metric): fixed ones (index -> point) stay put, the rest start as a
    fixed-seed random sample and move to their clipped cell's centroid LLOYD_ITERATIONS times."""
    pts = random_points_in(street_m, n, rng)
    for i, p in fixed.items():
        pts[i] = p
    if n == 1:
        return pts
    for _ in range(LLOYD_ITERATIONS):
        cells = voronoi_cells(pts, street_m)
        nxt = []
        for i, (p, c) in enumerate(zip(pts, cells)):
            if i in fixed:
                nxt.append(p)
                continue
            clipped = c.intersection(street_m)
            if clipped.is_empty:
                nxt.append(p)
                continue
            q = clipped.centroid
            if not street_m.contains(q):        # non-convex street: stay inside
                q = clipped.representative_point()
            nxt.append((q.x, q.y))
        pts = nxt
    return pts


def rnd(v):
    r = round(v, DIGITS)
    return 0.0 if r == 0 else r


def snap_to_segment(a, b, p, lo, hi):
    """Grid point (integers, units of 10^-DIGITS degree) closest to the line a-b, searched within
    [lo, hi] along the major axis around p. Rounding p itself would move it up to half a grid step
    off the outline; a nearby lattice point is typically 1000x closer, so the pieces still tile
    the real outline to ~1e-13 deg² instead of ~1e-10 per crossing."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    major = 0 if abs(dx) >= abs(dy) else 1
    best = None
    for u in range(lo, hi + 1):
        t = (u - a[major]) / (dx if major == 0 else dy)
        w = a[1 - major] + t * (dy if major == 0 else dx)
        for v in (math.floor(w), math.floor(w) + 1):
            x, y = (u, v) if major == 0 else (v, u)
            key = (abs(dx * (y - a[1]) - dy * (x - a[0])), abs(x - p[0]) + abs(y - p[1]), x, y)
            if best is None or key < best:
                best = key
    return (best[2], best[3])


def snap_outline_nodes(noded, outline):
    """Map every node lying on an outline edge (a crossing, not an outline vertex) to a grid point
    almost exactly on that edge. Returns {float coordinate: rounded coordinate}."""
    scale = 10 ** DIGITS
    rings = []
    polys = outline.geoms if outline.geom_type == "MultiPolygon" else [outline]
    for poly in polys:
        for ring in [poly.exterior] + list(poly.interiors):
            rings.append([(round(x * scale), round(y * scale)) for x, y in ring.coords])
    verts = {v for r in rings for v in r}
    segs = [(r[i], r[i + 1]) for r in rings for i in range(len(r) - 1)]
    on_seg = {}
    for ln in noded.geoms:
        for c in ln.coords:
            g = (c[0] * scale, c[1] * scale)
            if (round(g[0]), round(g[1])) in verts and abs(g[0] - round(g[0])) < 1e-3 \
                    and abs(g[1] - round(g[1])) < 1e-3:
                continue
            best = None
            for si, (a, b) in enumerate(segs):
                d = LineString([a, b]).distance(Point(g))
                if best is None or d < best[0]:
                    best = (d, si)
            if best[0] < 1e-3:        # on an outline edge, to float precision
                on_seg.setdefault(best[1], set()).add(c)
    mapping_ = {}
    for si in sorted(on_seg):
        a, b = segs[si]
        major = 0 if abs(b[0] - a[0]) >= abs(b[1] - a[1]) else 1
        lo_end, hi_end = sorted((a[major], b[major]))
        nodes = sorted(on_seg[si], key=lambda c: c[major])
        stops = [lo_end] + [c[major] * scale for c in nodes] + [hi_end]
        for k, c in enumerate(nodes, start=1):
            pu = c[major] * scale
            room = min(pu - stops[k - 1], stops[k + 1] - pu) * 0.4
            w = int(min(SNAP_WINDOW, room))
            lo, hi = math.ceil(pu - w), math.floor(pu + w)
            if lo > hi:
                lo = hi = round(pu)
            x, y = snap_to_segment(a, b, (c[0] * scale, c[1] * scale), lo, hi)
            mapping_[c] = (rnd(x / scale), rnd(y / scale))
    return mapping_


def round_lines(g, snap=None):
    """Round every vertex of (Multi)LineString g to DIGITS decimals (or to its snapped point),
    dropping zero-length pieces."""
    parts = g.geoms if hasattr(g, "geoms") else [g]
    out = []
    for ln in parts:
        if ln.geom_type != "LineString":
            continue
        cs = []
        for x, y in ln.coords:
            c = snap[(x, y)] if snap and (x, y) in snap else (rnd(x), rnd(y))
            if not cs or cs[-1] != c:
                cs.append(c)
        if len(cs) >= 2:
            out.append(LineString(cs))
    return MultiLineString(out)


def node_and_round(lines, outline):
    """Node lines, snap crossings on the outline, round to the output grid, and re-node until
    rounding creates no new node."""
    g = unary_union(lines)
    r = round_lines(g, snap_outline_nodes(g, outline))
    for _ in range(10):
        g2 = unary_union(r)
        r2 = round_lines(g2)
        if r2.equals(r) and len(r2.geoms) == len(r.geoms):
            return r2
        r = r2
    sys.exit("mkdistrict: rounding did not converge")


def round_poly(g):
    def ring(cs):
        return [[rnd(x), rnd(y)] for x, y in cs]
    polys = g.geoms if g.geom_type == "MultiPolygon" else [g]
    out = []
    for p in polys:
        p = orient(p, 1.0)  # RFC 7946: exterior counter-clockwise, holes clockwise
        out.append([ring(p.exterior.coords)] + [ring(h.coords) for h in p.interiors])
    if len(out) == 1:
        return {"type": "Polygon", "coordinates": out[0]}
    return {"type": "MultiPolygon", "coordinates": out}


def pick(cells, p):
    """Index of the cell containing p; nearest one for rounding slivers on an edge."""
    for i, c in enumerate(cells):
        if c.contains(p):
            return i
    return min(range(len(cells)), key=lambda i: (cells[i].distance(p), i))


def feature_collection(name, feats):
    head = ('{"type":"FeatureCollection","name":%s,"approximate":true,"note":%s,"features":[\n'
            % (json.dumps(name), json.dumps(NOTE, ensure_ascii=False)))
    body = ",\n".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in feats)
    return head + body + "\n]}\n"


def write_file(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ddir = sys.argv[1] if len(sys.argv) > 1 else "data/luohu"
    outline = load_outline(os.path.join(ddir, "district-outline.wgs84.geojson"))
    streets = read_csv(os.path.join(ddir, "streets.csv"))
    seeds = {r["code"]: (float(r["lng_wgs84"]), float(r["lat_wgs84"]))
             for r in read_csv(os.path.join(ddir, "street-seeds.approximate.csv"))}
    comms = read_csv(os.path.join(ddir, "communities.csv"))
    with open(os.path.join(ddir, "metro-stations.wgs84.geojson"), encoding="utf-8") as f:
        stations = {ft["properties"]["name"]: tuple(ft["geometry"]["coordinates"][:2])
                    for ft in json.load(f)["features"]}

    streets.sort(key=lambda r: r["code"])
    codes = [r["code"] for r in streets]
    missing = [c for c in codes if c not in seeds]
    if missing:
        sys.exit("mkdistrict: no seed for street(s) %s" % ", ".join(missing))
    by_street = {c: [] for c in codes}
    for r in sorted(comms, key=lambda r: r["code"]):
        if r["streetCode"] not in by_street:
            sys.exit("mkdistrict: community %s has unknown street %s" % (r["code"], r["streetCode"]))
        by_street[r["streetCode"]].append(r)

    c = outline.centroid
    fr = Frame(c.x, c.y)
    outline_m = fr.fwd(outline)

    # 1. street cells (float, metric), clipped to the outline
    s_pts = [fr.fwd(Point(seeds[code])).coords[0] for code in codes]
    s_cells_m = voronoi_cells(s_pts, outline_m)
    s_poly_m = [cell.intersection(outline_m) for cell in s_cells_m]

    # 2. community cells per street (float, metric)
    c_cells_m = {}
    seeded_at_station = []
    for si, code in enumerate(codes):
        rows = by_street[code]
        street_m = s_poly_m[si]
        fixed = {}
        used = set()
        for i, r in enumerate(rows):
            short = r["name"].replace("居民委员会", "")
            st = short[:-2] if short.endswith("社区") else short
            if st in stations and st not in used:
                p = fr.fwd(Point(stations[st]))
                if street_m.contains(p):
                    fixed[i] = p.coords[0]
                    used.add(st)
                    seeded_at_station.append(short)
        rng = random.Random(int(code))
        pts = community_seeds(street_m, len(rows), fixed, rng)
        c_cells_m[code] = voronoi_cells(pts, street_m) if len(pts) > 1 else [street_m]

    # 3. one noded, rounded line arrangement in WGS-84
    lines = [outline.boundary]
    for si, code in enumerate(codes):
        lines.append(fr.inv(s_cells_m[si]).boundary.intersection(outline.buffer(STUB_DEG)))
    for si, code in enumerate(codes):
        street_ll = fr.inv(s_poly_m[si]).buffer(STUB_DEG)
        for cell in c_cells_m[code]:
            lines.append(fr.inv(cell).boundary.intersection(street_ll))
    flat = []
    for g in lines:
        for part in (g.geoms if hasattr(g, "geoms") else [g]):
            if part.geom_type == "LineString" and not part.is_empty:
                flat.append(part)
    noded = node_and_round(flat, outline)
    faces = [f for f in polygonize(noded)
             if outline.contains(f.representative_point())]

    # 4. assign faces to street, then community, using the float cells
    s_poly_ll = [fr.inv(p) for p in s_poly_m]
    c_cells_ll = {code: [fr.inv(cl).intersection(s_poly_ll[si]) for cl in c_cells_m[code]]
                  for si, code in enumerate(codes)}
    c_faces = {code: [[] for _ in by_street[code]] for code in codes}
    for f in faces:
        p = f.representative_point()
        code = codes[pick(s_poly_ll, p)]
        c_faces[code][pick(c_cells_ll[code], p)].append(f)

    # 5. build, check, write
    s_feats, c_feats = [], []
    s_geoms, c_geoms = [], []
    summary = []
    for si, code in enumerate(codes):
        rows = by_street[code]
        parts = []
        for ci, r in enumerate(rows):
            if not c_faces[code][ci]:
                sys.exit("mkdistrict: community %s got no area" % r["code"])
            g = unary_union(c_faces[code][ci])
            gj = round_poly(g)
            gr = shape(gj)
            if not gr.is_valid:
                sys.exit("mkdistrict: community %s invalid after rounding" % r["code"])
            parts.append(gr)
            c_geoms.append((r["code"], code, gr))
            c_feats.append({"type": "Feature",
                            "properties": {"code": r["code"],
                                           "name": r["name"].replace("居民委员会", ""),
                                           "street_code": code, "approximate": True},
                            "geometry": gj})
        sg = unary_union(parts)
        gj = round_poly(sg)
        gr = shape(gj)
        if not gr.is_valid:
            sys.exit("mkdistrict: street %s invalid after rounding" % code)
        s_geoms.append((code, gr))
        s_feats.append({"type": "Feature",
                        "properties": {"code": code, "name": streets[si]["name"],
                                       "approximate": True},
                        "geometry": gj})
        summary.append((code, streets[si]["name"], len(rows), area_km2(gr),
                        gr.geom_type, min(area_km2(p) for p in parts)))

    check(outline, s_geoms, c_geoms)

    write_file(os.path.join(ddir, "streets.approximate.geojson"),
                     feature_collection("luohu-streets-approximate", s_feats))
    write_file(os.path.join(ddir, "communities.approximate.geojson"),
                     feature_collection("luohu-communities-approximate", c_feats))

    total = sum(s[3] for s in summary)
    print("street     name        communities  area_km2  geometry      smallest_community_km2")
    for code, name, n, a, gt, amin in summary:
        print("%s  %-8s  %3d          %7.3f  %-12s  %.3f" % (code, name, n, a, gt, amin))
    print("total streets %.3f km2, outline %.3f km2, communities %d, seeded at a metro station: %s"
          % (total, area_km2(outline), len(c_feats), " ".join(seeded_at_station) or "none"))


def check(outline, s_geoms, c_geoms):
    """Partition checks (areas in deg²); exits non-zero on failure. Pieces share exact vertices,
    so overlaps are 0 up to float summation; only the outline differs, by the snapped crossings."""
    tol = 1e-9
    for label, g in [(c, g) for c, g in s_geoms] + [(c, g) for c, _, g in c_geoms]:
        if not g.is_valid or g.is_empty:
            sys.exit("mkdistrict: %s is not a valid polygon" % label)
    su = unary_union([g for _, g in s_geoms])
    if su.symmetric_difference(outline).area > tol:
        sys.exit("mkdistrict: streets do not cover the outline")
    if sum(g.area for _, g in s_geoms) - su.area > 1e-12:
        sys.exit("mkdistrict: streets overlap")
    for code, sg in s_geoms:
        cs = [g for _, sc, g in c_geoms if sc == code]
        cu = unary_union(cs)
        if cu.symmetric_difference(sg).area > 1e-12:
            sys.exit("mkdistrict: communities of %s do not cover it" % code)
        if sum(g.area for g in cs) - cu.area > 1e-12:
            sys.exit("mkdistrict: communities of %s overlap" % code)
        for g in cs:
            if g.difference(sg).area > 1e-12:
                sys.exit("mkdistrict: a community of %s leaves its street" % code)


if __name__ == "__main__":
    main()
