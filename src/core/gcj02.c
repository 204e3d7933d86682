/* WGS-84 <-> GCJ-02 conversion; see gcj02.h. The constants below are the public ones used by
 * every open implementation of the formula: the Krasovsky 1940 semi-major axis and eccentricity. */
#include "core/gcj02.h"

#include <math.h>

#define GCJ_A 6378245.0
#define GCJ_EE 0.00669342162296594323
#define GCJ_PI 3.14159265358979323846

bool gcj02_applies(struct geo_point p)
{
	return p.lng >= 72.004 && p.lng <= 137.8347 && p.lat >= 0.8293 && p.lat <= 55.8271;
}

/* The published polynomial-plus-sines offset in "metres-like" units, x and y relative to
 * (105, 35). */
static double transform_lat(double x, double y)
{
	double r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(fabs(x));
	r += (20.0 * sin(6.0 * x * GCJ_PI) + 20.0 * sin(2.0 * x * GCJ_PI)) * 2.0 / 3.0;
	r += (20.0 * sin(y * GCJ_PI) + 40.0 * sin(y / 3.0 * GCJ_PI)) * 2.0 / 3.0;
	r += (160.0 * sin(y / 12.0 * GCJ_PI) + 320.0 * sin(y * GCJ_PI / 30.0)) * 2.0 / 3.0;
	return r;
}

static double transform_lng(double x, double y)
{
	double r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(fabs(x));
	r += (20.0 * sin(6.0 * x * GCJ_PI) + 20.0 * sin(2.0 * x * GCJ_PI)) * 2.0 / 3.0;
	r += (20.0 * sin(x * GCJ_PI) + 40.0 * sin(x / 3.0 * GCJ_PI)) * 2.0 / 3.0;
	r += (150.0 * sin(x / 12.0 * GCJ_PI) + 300.0 * sin(x / 30.0 * GCJ_PI)) * 2.0 / 3.0;
	return r;
}

struct geo_point gcj02_from_wgs84(struct geo_point wgs)
{
	if (!gcj02_applies(wgs))
		return wgs;
	double dlat = transform_lat(wgs.lng - 105.0, wgs.lat - 35.0);
	double dlng = transform_lng(wgs.lng - 105.0, wgs.lat - 35.0);
	double radlat = wgs.lat / 180.0 * GCJ_PI;
	double magic = sin(radlat);
	magic = 1 - GCJ_EE * magic * magic;
	double sqrtmagic = sqrt(magic);
	dlat = (dlat * 180.0) / ((GCJ_A * (1 - GCJ_EE)) / (magic * sqrtmagic) * GCJ_PI);
	dlng = (dlng * 180.0) / (GCJ_A / sqrtmagic * cos(radlat) * GCJ_PI);
	return (struct geo_point){wgs.lng + dlng, wgs.lat + dlat};
}

struct geo_point gcj02_to_wgs84(struct geo_point gcj)
{
	if (!gcj02_applies(gcj))
		return gcj;
	/* The offset varies slowly (its derivative is ~1e-5), so the fixed-point map contracts
	 * fast: each round gains about five decimal digits. */
	struct geo_point w = gcj;
	for (int i = 0; i < 30; i++) {
		struct geo_point g = gcj02_from_wgs84(w);
		double dlng = gcj.lng - g.lng, dlat = gcj.lat - g.lat;
		w.lng += dlng;
		w.lat += dlat;
		if (fabs(dlng) < 1e-10 && fabs(dlat) < 1e-10)
			break;
	}
	return w;
}
