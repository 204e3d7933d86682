/* WGS-84 <-> GCJ-02 ("Mars coordinates"), the offset datum that maps published in mainland China
 * (Amap, Tencent, Google China) use. The forward formula is the widely published public one; the
 * inverse has no closed form and is found by fixed-point iteration. */
#ifndef CD_GCJ02_H
#define CD_GCJ02_H

#include <stdbool.h>

#include "core/geo.h"

/* True when p is inside the rough box where the GCJ-02 offset applies (the formula's own
 * "out of China" test: lng 72.004..137.8347, lat 0.8293..55.8271). Outside it both
 * conversions return their input unchanged. */
bool gcj02_applies(struct geo_point p);

/* WGS-84 -> GCJ-02 by the public formula (Krasovsky ellipsoid constants). Offsets are a few
 * hundred metres in Shenzhen. */
struct geo_point gcj02_from_wgs84(struct geo_point wgs);

/* GCJ-02 -> WGS-84: iterates w += g - f(w) from w = g until the step is below 1e-10 degrees
 * (about 0.01 mm) or 30 rounds; the forward image of the result is within millimetres of g, so
 * a round trip WGS -> GCJ -> WGS is well within 1 m. */
struct geo_point gcj02_to_wgs84(struct geo_point gcj);

#endif
