/* "One class of things": clusters on the hot-messages file (two hand-labelled groups of
 * messages about one problem each), trend counts, hot spots and rising terms. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/insights.h"
#include "messages.h"
#include "test.h"
#include "util/alloc.h"
#include "util/csv.h"

#define HOT_CSV "../shared/data/complaints/taidi2020C_hot_messages_with_votes.csv"
#define T0 1795000000
#define DAY 86400

/* Titles and details of the hot messages (columns 3 and 5): returns the count. */
static size_t load_hot(char ***titles, char ***details)
{
	struct message *m;
	size_t n = messages_load(HOT_CSV, 64, &m);
	*titles = xcalloc(64, sizeof **titles);
	*details = xcalloc(64, sizeof **details);
	for (size_t i = 0; i < n; i++) {
		(*titles)[i] = m[i].title;
		(*details)[i] = m[i].detail;
		xfree(m[i].label);
	}
	xfree(m);
	return n;
}

static void test_hot_messages(void)
{
	char **titles, **details;
	size_t n = load_hot(&titles, &details);
	if (n < 20) {
		printf("  SKIP: %s not readable\n", HOT_CSV);
		xfree(titles);
		xfree(details);
		return;
	}
	/* The two groups, by a word every member's title holds. */
	struct insights_doc *docs = xcalloc(n, sizeof *docs);
	for (size_t i = 0; i < n; i++) {
		docs[i].id = (int64_t)i + 1;
		docs[i].reported_at = T0 + (int64_t)i * 3600;
		docs[i].title = titles[i];
		docs[i].description = details[i];
		docs[i].street = i % 2 ? "440303001" : "440303002";
	}
	struct insights_cluster_opts o;
	insights_cluster_opts_default(&o);
	o.from = T0;
	o.to = T0 + 7 * DAY;
	struct insights_clusters cl;
	CHECK_INT_EQ(insights_cluster(NULL, docs, n, &o, &cl), CD_OK);
	CHECK_INT_EQ(cl.docs, n);
	CHECK(cl.n >= 2);
	size_t charm_total = 0, school_total = 0;
	for (size_t i = 0; i < n; i++) {
		charm_total += strstr(titles[i], "魅力之城") != NULL;
		school_total += strstr(titles[i], "经济学院") != NULL;
	}
	size_t best_charm = 0, best_school = 0, mixed = 0;
	for (size_t c = 0; c < cl.n; c++) {
		size_t charm = 0, school = 0;
		for (size_t k = 0; k < cl.items[c].n_members; k++) {
			const char *t = titles[cl.items[c].members[k] - 1];
			charm += strstr(t, "魅力之城") != NULL;
			school += strstr(t, "经济学院") != NULL;
		}
		printf("  cluster %zu: %zu cases, label \"%s\", %zu+%zu of the groups\n", c,
		       cl.items[c].count, cl.items[c].label, charm, school);
		mixed += charm && school;
		mixed += cl.items[c].n_members > charm + school; /* a stranger joined */
		if (charm > best_charm)
			best_charm = charm;
		if (school > best_school)
			best_school = school;
		CHECK_INT_EQ(cl.items[c].n_members, cl.items[c].count);
		CHECK(cl.items[c].n_terms >= 1);
		CHECK(cl.items[c].first_seen <= cl.items[c].last_seen);
		CHECK_INT_EQ(cl.items[c].n_streets, 2);
		for (size_t k = 1; k < cl.items[c].n_members; k++)
			CHECK(cl.items[c].members[k - 1] > cl.items[c].members[k]);
	}
	printf("  魅力之城: %zu of %zu in one cluster; 经济学院: %zu of %zu\n", best_charm, charm_total,
	       best_school, school_total);
	CHECK_INT_EQ(mixed, 0);
	CHECK(best_charm * 10 >= charm_total * 7);
	CHECK(best_school >= 3);
	insights_clusters_release(&cl);
	insights_clusters_release(&cl); /* twice is fine */
	for (size_t i = 0; i < n; i++) {
		xfree(titles[i]);
		xfree(details[i]);
	}
	xfree(titles);
	xfree(details);
	xfree(docs);
}

static const char *const lift[] = {
    "3栋电梯又坏了，老人上下楼非常困难，请物业尽快维修电梯。",
    "我们小区电梯坏了，物业一直不维修，老人上下楼非常困难。",
    "小区电梯坏了一个星期，物业一直不维修，老人上下楼很困难。",
    "小区电梯坏了，物业说没钱维修，业主上下楼非常不便。",
};
static const char *const other[] = {
    "东门步行街垃圾桶满了没人清理，臭气熏天，苍蝇很多，请尽快安排清运。",
    "晚上十一点以后工地还在施工，噪音很大，影响居民休息，希望相关部门管一管。",
    "小区门口的路灯坏了好几天，晚上一片漆黑，老人小孩出行很不安全。",
    "公交站台的广告牌松动，刮风的时候摇摇晃晃，担心砸到路人。",
};

static void test_trend_and_period(void)
{
	/* 4 lift complaints this week, 2 the week before, 1 long before; unrelated ones around */
	struct insights_doc docs[16];
	size_t n = 0;
	for (int i = 0; i < 4; i++)
		docs[n++] =
		    (struct insights_doc){100 + i, T0 + i * DAY, "", lift[i], "H0101", "S1", "C1", "G1"};
	for (int i = 0; i < 2; i++)
		docs[n++] = (struct insights_doc){
		    200 + i, T0 - (i + 1) * DAY, "", lift[i + 1], "H0102", "S1", "C2", "G2"};
	docs[n++] = (struct insights_doc){300, T0 - 30 * DAY, "", lift[0], "H0101", "S1", "C1", "G1"};
	for (int i = 0; i < 4; i++)
		docs[n++] = (struct insights_doc){400 + i, T0 + i * DAY, "", other[i], "", "S2", "C3", "G3"};
	struct insights_cluster_opts o;
	insights_cluster_opts_default(&o);
	o.from = T0;
	o.to = T0 + 7 * DAY;
	struct insights_clusters cl;
	CHECK_INT_EQ(insights_cluster(NULL, docs, n, &o, &cl), CD_OK);
	CHECK_INT_EQ(cl.docs, 8);
	CHECK_INT_EQ(cl.n, 1);
	if (cl.n == 1) {
		const struct insights_cluster *c = &cl.items[0];
		printf("  lift cluster label \"%s\"\n", c->label);
		CHECK_INT_EQ(c->count, 4);
		CHECK_INT_EQ(c->previous, 2);
		CHECK_INT_EQ(c->members[0], 103);
		CHECK_INT_EQ(c->members[3], 100);
		CHECK_INT_EQ(c->first_seen, T0);
		CHECK_INT_EQ(c->last_seen, T0 + 3 * DAY);
		CHECK_STR_EQ(c->category.code, "H0101");
		CHECK_INT_EQ(c->category.n, 4);
		CHECK_STR_EQ(c->communities[0].code, "C1");
		CHECK_INT_EQ(c->n_places, 1);
		CHECK(strstr(c->label, "电梯") != NULL);
	}
	insights_clusters_release(&cl);
	/* another top-level category keeps cases apart */
	docs[1].category = "K0101";
	docs[2].category = "K0101";
	CHECK_INT_EQ(insights_cluster(NULL, docs, n, &o, &cl), CD_OK);
	CHECK_INT_EQ(cl.n, 0);
	insights_clusters_release(&cl);
	o.to = o.from;
	CHECK_INT_EQ(insights_cluster(NULL, docs, n, &o, &cl), CD_ERR_INVALID);
	CHECK_INT_EQ(
	    insights_cluster(NULL, NULL, 0, &(struct insights_cluster_opts){.from = 1, .to = 2}, &cl), CD_OK);
	CHECK_INT_EQ(cl.n, 0);
	insights_clusters_release(&cl);
}

static void test_hotspots(void)
{
	struct insights_doc docs[32];
	size_t n = 0;
	/* G1: 5 now (3 H01, 2 H02), 1 before; G2: 2 now, 4 before; G3: 0 now, 3 before; G4: 2 now, 0 before
	 */
	for (int i = 0; i < 5; i++)
		docs[n++] =
		    (struct insights_doc){n, T0 + i, "", "x", i < 3 ? "H01" : "H02", "S1", "C1", "G1"};
	docs[n++] = (struct insights_doc){n, T0 - DAY, "", "x", "H01", "S1", "C1", "G1"};
	for (int i = 0; i < 2; i++)
		docs[n++] = (struct insights_doc){n, T0 + i, "", "x", "H03", "S1", "C1", "G2"};
	for (int i = 0; i < 4; i++)
		docs[n++] = (struct insights_doc){n, T0 - DAY - i, "", "x", "H03", "S1", "C1", "G2"};
	for (int i = 0; i < 3; i++)
		docs[n++] = (struct insights_doc){n, T0 - 2 * DAY, "", "x", "H03", "S2", "C2", "G3"};
	for (int i = 0; i < 2; i++)
		docs[n++] = (struct insights_doc){n, T0 + DAY, "", "x", "", "S2", "C2", "G4"};
	docs[n++] = (struct insights_doc){n, T0 + 9 * DAY, "", "x", "H01", "S2", "C2", "G4"}; /* after `to` */
	docs[n++] = (struct insights_doc){n, T0 + DAY, "", "x", "H01", "", "", ""};	      /* unplaced */
	struct insights_hotspot h[8];
	size_t w = 0;
	CHECK_INT_EQ(insights_hotspots(docs, n, T0, T0 + 7 * DAY, INSIGHTS_GRID, h, 8, &w), CD_OK);
	CHECK_INT_EQ(w, 3);
	CHECK_STR_EQ(h[0].code, "G1");
	CHECK_INT_EQ(h[0].count, 5);
	CHECK_INT_EQ(h[0].previous, 1);
	CHECK_NEAR(h[0].growth, 4.0, 1e-9);
	CHECK_INT_EQ(h[0].n_mix, 2);
	CHECK_STR_EQ(h[0].mix[0].code, "H01");
	CHECK_INT_EQ(h[0].mix[0].n, 3);
	CHECK_STR_EQ(h[1].code, "G4"); /* ties on count: more growth first */
	CHECK_NEAR(h[1].growth, 2.0, 1e-9);
	CHECK_INT_EQ(h[1].n_mix, 0);
	CHECK_STR_EQ(h[2].code, "G2");
	CHECK_NEAR(h[2].growth, -0.5, 1e-9);
	CHECK_INT_EQ(insights_hotspots(docs, n, T0, T0 + 7 * DAY, INSIGHTS_COMMUNITY, h, 1, &w), CD_OK);
	CHECK_INT_EQ(w, 1);
	CHECK_STR_EQ(h[0].code, "C1");
	CHECK_INT_EQ(h[0].count, 7);
	CHECK_INT_EQ(h[0].previous, 5);
	CHECK_INT_EQ(insights_hotspots(docs, n, T0, T0 + 7 * DAY, INSIGHTS_STREET, h, 8, &w), CD_OK);
	CHECK_INT_EQ(w, 2);
	CHECK_INT_EQ(insights_hotspots(docs, n, T0, T0, INSIGHTS_STREET, h, 8, &w), CD_ERR_INVALID);
}

static void test_rising_terms(void)
{
	/* "电梯" all this week; the others spread evenly over five weeks */
	struct insights_doc docs[64];
	size_t n = 0;
	int64_t now = T0 + 35 * DAY;
	for (int i = 0; i < 4; i++)
		docs[n++] = (struct insights_doc){n, now - DAY - i * 3600, "", lift[i], "", "", "", ""};
	for (int w = 0; w < 5; w++)
		for (int i = 0; i < 4; i++)
			docs[n++] = (struct insights_doc){
			    n, now - w * 7 * DAY - 2 * DAY, "", other[i], "", "", "", ""};
	docs[n++] =
	    (struct insights_doc){n, now + DAY, "", lift[0], "", "", "", ""}; /* the future: ignored */
	struct insights_term t[10];
	size_t w = 0;
	CHECK_INT_EQ(insights_terms(NULL, docs, n, now, 3, t, 10, &w), CD_OK);
	CHECK(w >= 1);
	bool lift_first = false; /* a term about the lift among those rising most */
	for (size_t i = 0; i < w && t[i].ratio == t[0].ratio; i++)
		lift_first |= strstr(t[i].term, "电梯") != NULL;
	for (size_t i = 0; i < w; i++) {
		printf("  rising: %s %zu (%.2f a week before, x%.2f)\n", t[i].term, t[i].count,
		       t[i].weekly_before, t[i].ratio);
		CHECK(t[i].count >= 3);
		CHECK(strstr(t[i].term, "垃圾") == NULL); /* steady */
		if (i)
			CHECK(t[i - 1].ratio >= t[i].ratio);
	}
	CHECK(lift_first);
	if (w)
		CHECK_INT_EQ(t[0].count, 4);
	CHECK_INT_EQ(insights_terms(NULL, docs, n, now, 6, t, 10, &w), CD_OK);
	CHECK_INT_EQ(w, 0);
}

static const struct test_case tests[] = {
    {"hot messages: two groups found, nothing mixed", test_hot_messages},
    {"clusters: trend, period, category", test_trend_and_period},
    {"hot spots", test_hotspots},
    {"rising terms", test_rising_terms},
};

TEST_MAIN(tests)
