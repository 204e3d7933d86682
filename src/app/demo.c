/* Demo mode: a year of plausible history on an empty store, then a simulator; see demo.h and
 * docs/internals/demo.md. Reports go through intake_prepare and the commit queue like any
 * channel's; the workflow steps of the history are built by casework_prepare at the moment they
 * would have happened (history_apply below) and written a few thousand to a transaction with
 * store_case_apply_steps; the live simulator acts through casework_apply. */
#include "app/demo.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app.h"
#include "app/casework.h"
#include "app/commit_queue.h"
#include "app/devices.h"
#include "app/events.h"
#include "app/intake.h"
#include "app/iot.h"
#include "app/mapview.h"
#include "store/store_case_batch.h"
#include "core/category.h"
#include "core/classify.h"
#include "core/geo.h"
#include "core/similar.h"
#include "core/workflow.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/csv.h"
#include "util/log.h"

/* ---- pseudo-random numbers (xorshift64*: fast, reproducible from a seed) ---------------- */

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * UINT64_C(2685821657736338717);
}

static double rng_unit(struct rng *r) /* [0, 1) */
{
	return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static size_t rng_below(struct rng *r, size_t n)
{
	return n ? (size_t)(rng_unit(r) * (double)n) % n : 0;
}

static bool rng_chance(struct rng *r, double p)
{
	return rng_unit(r) < p;
}

/* ---- what residents write: templates, and the training messages when there are some ------- */

/* One template: {c} is the community's name, {p} a place in it. `category` is a category name
 * looked up in the tree (the report comes with it, as a grid worker's or camera's would), or
 * NULL (the classifier decides, as for a resident's words). */
struct demo_template {
	const char *channel;
	const char *category;
	const char *title;
	const char *text;
};

static const struct demo_template templates[] = {
    {"grid", "路灯异常", "{c}路灯不亮",
     "{c}{p}有三盏路灯晚上不亮，已经一周多了，行人夜里走路看不清，存在安全隐患，请尽快维修。"},
    {"grid", "暴露垃圾", "{p}暴露垃圾", "{c}{p}旁堆有生活垃圾和泡沫箱，无人清理，气味很大，需要环卫清运。"},
    {"grid", "道路破损", "{p}路面破损", "{c}{p}人行道地砖松动破损，约两平方米，下雨积水，老人小孩容易绊倒。"},
    {"camera", "机动车乱停放", "{p}车辆乱停",
     "{c}{p}有小汽车长期占用人行道停放，影响行人通行，请交警或执法队处理。"},
    {"camera", "占道经营", "{p}占道经营",
     "{c}{p}有流动摊贩占道经营水果和小吃，晚高峰阻碍通行，地面油污严重。"},
    {"grid", "非法小广告", "{p}小广告", "{c}{p}墙面和电线杆上贴满了办证、通下水道的小广告，影响市容。"},
    {"grid", "垃圾站（箱）满溢", "{p}垃圾桶满溢",
     "{c}{p}的分类垃圾桶已经满溢，垃圾散落在地上，今天还没有清运。"},
    {"grid", "施工占道", "{p}施工占道", "{c}{p}施工围挡占用了大半条人行道，没有设置临时通道和警示标志。"},
    {"camera", "共享单车乱象", "{p}共享单车堆放",
     "{c}{p}地铁口共享单车堆放杂乱，挡住了盲道和出入口，请运营企业清理。"},
    {"grid", "井盖", "{p}井盖缺失", "{c}{p}一个井盖破损下陷，车辆经过有响声，晚上非常危险，请尽快更换。"},
    {"grid", "乱堆杂物", "{p}楼道堆物", "{c}{p}楼道和消防通道里堆放了旧家具和纸箱，存在火灾隐患。"},
    {"grid", "行道树异常", "{p}树木倾斜", "{c}{p}一棵行道树被台风吹得倾斜，树枝压到电线，需要园林部门处理。"},
    {"app", NULL, "晚上噪音扰民",
     "{c}{p}附近的酒吧每天营业到凌晨两三点，音响声音很大，严重影响周边居民休息，多次投诉未改善。"},
    {"app", NULL, "施工噪音",
     "{c}{p}的工地晚上十点以后还在施工打桩，噪音很大，孩子无法睡觉，请相关部门查处夜间违规施工。"},
    {"app", NULL, "餐馆油烟污染", "{c}{p}楼下餐馆没有安装油烟净化设备，油烟直接排到居民楼，窗户都不敢开。"},
    {"hotline", NULL, "小区物业不作为",
     "我住在{c}{p}"
     "，小区物业长期不打扫楼道，电梯经常坏了好几天才修，业主多次反映没有结果，请街道督促物业整改。"},
    {"hotline", NULL, "电梯故障困人",
     "{c}{p}的住宅电梯这个月已经困人两次，物业只是简单重启，请特种设备监管部门检查这台电梯的安全。"},
    {"app", NULL, "消防通道被占",
     "{c}{p}小区的消防通道被私家车长期占用，一旦发生火灾消防车进不来，请执法部门处理。"},
    {"hotline", NULL, "拖欠工资",
     "我在{c}一家装修公司打工，老板已经拖欠我们五个工人三个月工资共六万多元，请劳动监察部门帮忙追讨。"},
    {"hotline", NULL, "燃气管道异味",
     "{c}{p}的楼道里闻到明显的燃气味道，怀疑燃气管道漏气，请燃气公司尽快上门检查。"},
    {"app", NULL, "自来水发黄", "{c}{p}这两天自来水发黄有异味，烧开后有沉淀，请水务部门检测水质。"},
    {"hotline", NULL, "学位申请咨询",
     "孩子明年上小学，户籍在{c}，住房是租的，想咨询积分入学需要准备哪些材料，什么时候申请。"},
    {"app", NULL, "违章搭建", "{c}{p}有住户在天台私自搭建铁皮房，还在扩建，存在安全隐患，请查处违章建筑。"},
    {"hotline", NULL, "公交站牌信息错误",
     "{c}{p}公交站的站牌线路信息没有更新，有两条线路已经改线，乘客经常等错车。"},
    {"app", NULL, "道路积水", "每次下大雨{c}{p}路口都会严重积水，水深到小腿，车辆熄火，请排查排水管道。"},
    {"hotline", NULL, "社保卡补办",
     "我的社保卡丢失了，想咨询在{c}附近哪里可以补办，需要带什么证件，多久能拿到。"},
    {"app", NULL, "流浪狗伤人", "{c}{p}附近有几条流浪狗经常追咬路人，昨天有小孩被吓到，请有关部门处理。"},
    {"hotline", NULL, "食品安全问题",
     "在{c}{p}的一家快餐店吃饭后全家腹泻，店里卫生条件很差，请市场监管部门检查。"},
    {"app", NULL, "路口红绿灯时间太短",
     "{c}{p}路口行人绿灯只有十几秒，老人过马路走不完，请交警部门调整信号灯配时。"},
    {"hotline", NULL, "商铺噪音",
     "{c}{p}的商铺每天用大喇叭播放促销广告，从早上九点到晚上十点，附近居民不堪其扰。"},
    {"app", NULL, "垃圾分类投放点脏乱", "{c}{p}小区的垃圾分类投放点周边脏乱，厨余垃圾桶没有盖子，蚊蝇很多。"},
    {"hotline", NULL, "老旧小区改造",
     "{c}{p}是九十年代的老小区，外墙瓷砖脱落、水管老化，想了解是否纳入今年老旧小区改造计划。"},
    {"app", NULL, "电动车楼道充电",
     "{c}{p}有住户把电动车推进楼道飞线充电，多次劝说无效，担心起火，请社区和消防处理。"},
    {"hotline", NULL, "医保报销咨询", "我在{c}社康中心看病，想咨询医保门诊报销比例和异地就医备案怎么办理。"},
    {"app", NULL, "树木遮挡路灯", "{c}{p}路边的树枝太茂盛，把路灯和交通标志都挡住了，请修剪。"},
    {"hotline", NULL, "出租屋安全隐患",
     "{c}{p}有一栋出租屋住了几十个人，隔成很多小间，没有消防设施，存在很大安全隐患。"},
};
#define NTEMPLATES (sizeof templates / sizeof templates[0])

/* Places within a community that residents name. */
static const char *const places[] = {
    "地铁站出口", "公交站",	"菜市场门口", "小学门口",   "十字路口",	  "花园小区东门",
    "商业街",	  "社康中心旁", "停车场",     "人行天桥下", "城中村巷子", "农批市场",
    "写字楼后门", "公园入口",	"新村12栋",   "大厦北侧",   "老街骑楼",
};
#define NPLACES (sizeof places / sizeof places[0])

static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
				       "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "梁"};
static const char *const given[] = {"伟", "芳", "娜", "敏", "静", "强", "磊",	"洋",	"艳",	"勇",
				    "军", "杰", "娟", "涛", "明", "超", "秀英", "建华", "志强", "丽华"};

/* What a dispatcher, a unit or a resident writes at each step. */
static const char *const handle_results[] = {
    "已安排人员到现场处理完毕，现场已恢复正常。",   "已联系责任单位整改，并拍照留存。",
    "已约谈当事人，责令限期整改，后续将持续跟踪。", "已维修更换，经测试运行正常。",
    "已清理完毕，并加强该点位日常巡查。",	    "已向当事人解释相关政策，当事人表示理解。",
};
static const char *const reject_reasons[] = {"不属于本区管辖范围", "重复反映，已在办理中",
					     "诉求内容不明确，无法联系核实"};

/* A citizen message from the training texts (owned copies). */
struct demo_text {
	char *title;
	char *detail;
};

/* One community the demo reports from. */
struct demo_place {
	char code[STORE_CODE_MAX];
	char name[128];		      /* e.g. 大塘龙社区 */
	struct geo_multipolygon geom; /* a copy of its outline */
	struct geo_bbox box;
	double weight; /* share of reports, relative */
};

/* The world the demo draws from, built once per seeding or simulator. */
struct world {
	struct rng rng;
	struct demo_place *places;
	size_t nplaces;
	double total_weight;
	struct demo_text *texts;
	size_t ntexts;
	const char *tmpl_category[NTEMPLATES]; /* resolved codes, or NULL */
	struct store_unit *units;	       /* for a street office when routing finds none */
	size_t nunits;
};

/* Replaces the training set's anonymised places (A市, A3区) with Luohu's. */
static void localise(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; in[i] && o + 16 < cap;) {
		if (in[i] == 'A' && strncmp(in + i + 1, "市", strlen("市")) == 0) {
			o += (size_t)snprintf(out + o, cap - o, "深圳市");
			i += 1 + strlen("市");
			continue;
		}
		if (in[i] == 'A' && in[i + 1] >= '0' && in[i + 1] <= '9') {
			size_t j = i + 1;
			while (in[j] >= '0' && in[j] <= '9')
				j++;
			if (strncmp(in + j, "区", strlen("区")) == 0) {
				o += (size_t)snprintf(out + o, cap - o, "罗湖区");
				i = j + strlen("区");
				continue;
			}
		}
		out[o++] = in[i++];
	}
	out[o] = '\0';
}

/* Cuts s to at most max bytes on a character boundary, ending with "…" when cut. */
static void clip_utf8(char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return;
	size_t cut = max - 3;
	while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	memcpy(s + cut, "…", 3);
	s[cut + 3] = '\0';
}

/* Reads title/detail columns of a CSV of citizen messages; a missing file gives none. */
static void load_texts(struct world *w, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	if (!path || file_read_all(path, 16u << 20, &text, &len))
		return;
	struct csv_reader r;
	csv_init(&r, text, len);
	int ct = -1, cd = -1;
	size_t cap = 0;
	if (csv_next(&r) == CD_OK) {
		ct = csv_column(&r, "title");
		cd = csv_column(&r, "detail");
	}
	while (ct >= 0 && cd >= 0 && csv_next(&r) == CD_OK) {
		if ((size_t)ct >= r.nfields || (size_t)cd >= r.nfields || !r.fields[cd][0])
			continue;
		if (w->ntexts == cap) {
			cap = cap ? cap * 2 : 256;
			w->texts = xrealloc(w->texts, cap * sizeof *w->texts);
		}
		char *t = xmalloc(strlen(r.fields[ct]) * 2 + 32), *d = xmalloc(strlen(r.fields[cd]) * 2 + 32);
		localise(r.fields[ct], t, strlen(r.fields[ct]) * 2 + 32);
		localise(r.fields[cd], d, strlen(r.fields[cd]) * 2 + 32);
		clip_utf8(t, 180);
		clip_utf8(d, 900); /* a screenful: the training texts run to several KB */
		w->texts[w->ntexts].title = t;
		w->texts[w->ntexts].detail = d;
		w->ntexts++;
	}
	csv_release(&r);
	xfree(text);
}

static void world_release(struct world *w)
{
	for (size_t i = 0; i < w->nplaces; i++)
		geo_multipolygon_release(&w->places[i].geom);
	xfree(w->places);
	for (size_t i = 0; i < w->ntexts; i++) {
		xfree(w->texts[i].title);
		xfree(w->texts[i].detail);
	}
	xfree(w->texts);
	xfree(w->units);
	memset(w, 0, sizeof *w);
}

/* Copies the communities from the map and gives each a share of the reports: a few busy ones
 * (commercial centres, old villages), most ordinary. */
static enum cd_err world_build(struct app *app, struct world *w, uint64_t seed, const char *texts_path)
{
	memset(w, 0, sizeof *w);
	w->rng.s = seed ? seed : UINT64_C(0x9E3779B97F4A7C15);
	pthread_rwlock_rdlock(&app->map_lock);
	const struct geojson_features *cs = &app->map->communities;
	enum cd_err rc = CD_OK;
	w->places = xcalloc(cs->n ? cs->n : 1, sizeof *w->places);
	for (size_t i = 0; i < cs->n && !rc; i++) {
		struct demo_place *p = &w->places[w->nplaces];
		rc = geo_multipolygon_copy(&cs->items[i].geom, &p->geom);
		if (rc)
			break;
		snprintf(p->code, sizeof p->code, "%s", cs->items[i].code ? cs->items[i].code : "");
		snprintf(p->name, sizeof p->name, "%s", cs->items[i].name ? cs->items[i].name : "");
		p->box = geo_multipolygon_bbox(&p->geom);
		w->nplaces++;
	}
	pthread_rwlock_unlock(&app->map_lock);
	if (rc || !w->nplaces) {
		world_release(w);
		return rc ? rc : CD_ERR_NOTFOUND;
	}
	for (size_t i = 0; i < w->nplaces; i++) {
		double u = rng_unit(&w->rng);
		w->places[i].weight = 0.4 + 2.6 * u * u * u + (rng_chance(&w->rng, 0.08) ? 4.0 : 0.0);
		w->total_weight += w->places[i].weight;
	}
	for (size_t t = 0; t < NTEMPLATES; t++) {
		const struct category *c =
		    templates[t].category ? category_find_name(app->cats, templates[t].category, NULL) : NULL;
		if (!c && templates[t].category) { /* "路灯异常" is the matter; try the part's name */
			const struct category *all[4];
			if (category_find_name_all(app->cats, templates[t].category, all, 4) > 0)
				c = all[0];
		}
		w->tmpl_category[t] = c ? c->code : NULL;
	}
	if (store_units_list(app->st, &w->units, &w->nunits)) {
		w->units = NULL;
		w->nunits = 0;
	}
	load_texts(w, texts_path && *texts_path ? texts_path : NULL);
	return CD_OK;
}

static const struct demo_place *pick_place(struct world *w)
{
	double x = rng_unit(&w->rng) * w->total_weight;
	for (size_t i = 0; i < w->nplaces; i++) {
		x -= w->places[i].weight;
		if (x < 0)
			return &w->places[i];
	}
	return &w->places[w->nplaces - 1];
}

/* A point inside the community (rejection sampling in its bounding box). */
static bool pick_point(struct world *w, const struct demo_place *p, double *lat, double *lng)
{
	for (int tries = 0; tries < 64; tries++) {
		struct geo_point pt = {p->box.min_lng + rng_unit(&w->rng) * (p->box.max_lng - p->box.min_lng),
				       p->box.min_lat +
					   rng_unit(&w->rng) * (p->box.max_lat - p->box.min_lat)};
		if (geo_multipolygon_contains(&p->geom, pt)) {
			*lat = pt.lat;
			*lng = pt.lng;
			return true;
		}
	}
	return false;
}

/* Expands {c} and {p} of a template. */
static void expand(const char *tmpl, const char *community, const char *place, char *out, size_t cap)
{
	size_t o = 0;
	for (const char *s = tmpl; *s && o + 1 < cap;) {
		const char *with = strncmp(s, "{c}", 3) == 0   ? community
				   : strncmp(s, "{p}", 3) == 0 ? place
							       : NULL;
		if (with) {
			int n = snprintf(out + o, cap - o, "%s", with);
			o = n < 0 ? o : o + (size_t)n >= cap ? cap - 1 : o + (size_t)n;
			s += 3;
		} else {
			out[o++] = *s++;
		}
	}
	out[o] = '\0';
}

/* One made-up report: its texts live in the caller's buffers. */
struct fake_report {
	char title[STORE_CASE_TITLE_MAX];
	char text[4096];
	char address[256];
	char name[32];
	char phone[16];
	const char *channel;
	const char *category;
	double lat, lng;
	bool has_point;
	int template_index; /* -1 for a training message */
};

static void fake_report(struct world *w, struct fake_report *f)
{
	const struct demo_place *p = pick_place(w);
	const char *place = places[rng_below(&w->rng, NPLACES)];
	memset(f, 0, sizeof *f);
	f->has_point = pick_point(w, p, &f->lat, &f->lng);
	snprintf(f->address, sizeof f->address, "罗湖区%.120s%.60s", p->name, place);
	if (w->ntexts && rng_chance(&w->rng, 0.35)) {
		const struct demo_text *t = &w->texts[rng_below(&w->rng, w->ntexts)];
		snprintf(f->title, sizeof f->title, "%s", t->title);
		snprintf(f->text, sizeof f->text, "%s", t->detail);
		f->channel = rng_chance(&w->rng, 0.6) ? "hotline" : "app";
		f->template_index = -1;
	} else {
		size_t k = rng_below(&w->rng, NTEMPLATES);
		expand(templates[k].title, p->name, place, f->title, sizeof f->title);
		expand(templates[k].text, p->name, place, f->text, sizeof f->text);
		f->channel = templates[k].channel;
		f->category = w->tmpl_category[k];
		f->template_index = (int)k;
	}
	/* Residents sometimes leave their name, nearly always a phone number. */
	if (rng_chance(&w->rng, 0.7))
		snprintf(f->name, sizeof f->name, "%s%s", surnames[rng_below(&w->rng, 20)],
			 given[rng_below(&w->rng, 20)]);
	static const char *const prefixes[] = {"135", "136", "137", "138", "139",
					       "150", "158", "186", "188", "199"};
	snprintf(f->phone, sizeof f->phone, "%s%04u%04u", prefixes[rng_below(&w->rng, 10)],
		 (unsigned)rng_below(&w->rng, 10000), (unsigned)rng_below(&w->rng, 10000));
	if (strcmp(f->channel, "grid") == 0 || strcmp(f->channel, "camera") == 0)
		f->name[0] = f->phone[0] = '\0'; /* found on patrol: no reporter */
}

static void fill_request(const struct fake_report *f, int64_t reported_at, struct intake_request *in)
{
	memset(in, 0, sizeof *in);
	in->channel = f->channel;
	in->title = f->title;
	in->description = f->text;
	in->has_point = f->has_point;
	in->lat = f->lat;
	in->lng = f->lng;
	in->address = f->address;
	in->category = f->category;
	in->reporter_name = f->name[0] ? f->name : NULL;
	in->reporter_phone = f->phone[0] ? f->phone : NULL;
	in->reported_at = reported_at;
	in->actor = strcmp(f->channel, "camera") == 0 ? "camera.ai"
		    : strcmp(f->channel, "grid") == 0 ? "grid.worker"
						      : "demo";
	in->actor_role = strcmp(f->channel, "grid") == 0 ? "grid_worker" : "system";
}

/* ---- the history of one case, recorded at the moments it happened ------------------------ */

/* The street office of the case's street: a dispatcher's choice when the list names no unit. */
static const char *street_office(const struct world *w, const char *street)
{
	for (size_t i = 0; i < w->nunits; i++)
		if (street[0] && strcmp(w->units[i].street_code, street) == 0)
			return w->units[i].code;
	return w->nunits ? w->units[0].code : NULL;
}

/* The category a dispatcher registers an uncategorised case with: the classifier's first
 * proposal, in out; NULL when the case has one or the classifier has none. */
static const char *proposed_category(struct app *app, const struct store_case *c, char *out, size_t cap)
{
	struct classify_result top;
	double auto_min;
	if (c->category_code[0] || intake_classify(app, c->title, c->description, 1, &top, &auto_min) != 1 ||
	    !category_get(app->cats, top.code))
		return NULL;
	snprintf(out, cap, "%s", top.code);
	return out;
}

/* ---- a case's past, written many steps to a transaction ------------------------------------ */

/* One step waiting to be written (or the release of a case that took none). */
struct history_entry {
	int64_t case_id;
	int64_t expected_version; /* the version the step was decided on */
	bool has_event;		  /* false: only the deadline marks change (history_release) */
	struct casework_change ch;
};

#define HISTORY_FLUSH_STEPS 2048 /* written once this many are waiting (whole cases only) */
#define HISTORY_CASE_STEPS 32	 /* room for one more case (the longest path is 16 steps) */

/* The steps of whole cases waiting for one store_case_apply_steps call, and what was written. */
struct history {
	struct app *app;
	struct world *w;
	struct history_entry *e; /* HISTORY_FLUSH_STEPS + HISTORY_CASE_STEPS of them */
	size_t n;
	struct store_case_step *steps; /* built from e at each flush */
	struct store_actor *actors;
	size_t written;	   /* steps committed (with an event) */
	size_t dropped;	   /* cases whose past was dropped (someone acted on them meanwhile) */
	double write_s;	   /* time spent writing */
};

static void history_init(struct history *h, struct app *app, struct world *w)
{
	memset(h, 0, sizeof *h);
	h->app = app;
	h->w = w;
	size_t cap = HISTORY_FLUSH_STEPS + HISTORY_CASE_STEPS;
	h->e = xmalloc(cap * sizeof *h->e);
	h->steps = xmalloc(cap * sizeof *h->steps);
	h->actors = xmalloc(cap * sizeof *h->actors);
}

static void history_release_all(struct history *h)
{
	xfree(h->e);
	xfree(h->steps);
	xfree(h->actors);
	memset(h, 0, sizeof *h);
}

/* The deadline marks a step of the past leaves: a case that ends here keeps them as they stood
 * at `at` (a rating keeps the closure's); an open one carries both until history_release hands
 * it to the scheduler (which would otherwise mark it, now, before its past is written). */
static void history_marks(struct store_case *after, enum workflow_action a, int64_t at)
{
	enum workflow_state s;
	if (workflow_state_parse(after->status, &s) || !workflow_state_is_final(s)) {
		after->warned = after->overdue = 1;
	} else if (a != WF_ACTION_RATE) {
		after->overdue = after->deadline && at > after->deadline;
		after->warned = after->overdue || (after->warn_at && at >= after->warn_at);
	}
}

/* One step of a case's past, decided and built by casework_prepare as the console's would be,
 * at time `at` (so the stamps, deadlines and score days are those of that moment), and queued.
 * *c becomes the row it leaves (its version as it will be stored). The dispatcher registers
 * with the category the classifier proposes when the case has none, and dispatches to the
 * street office when the responsibility list names no unit. */
static enum cd_err history_apply(struct history *h, struct store_case *c, enum workflow_action action,
				 enum auth_role role, const char *actor, int64_t at, bool negative,
				 enum workflow_satisfaction sat, const char *text)
{
	struct casework_action a;
	char category[STORE_CATEGORY_MAX];
	if (h->n >= HISTORY_FLUSH_STEPS + HISTORY_CASE_STEPS)
		return CD_ERR_TOOBIG;
	memset(&a, 0, sizeof a);
	a.action = action;
	a.at = at;
	a.approved = true;
	switch (action) {
	case WF_ACTION_REJECT:
		a.reason = text;
		break;
	case WF_ACTION_HANDLE:
		a.result = text;
		break;
	case WF_ACTION_VERIFY:
		a.passed = !negative;
		a.comment = text;
		break;
	case WF_ACTION_RATE:
		a.satisfaction = sat;
		a.comment = text;
		break;
	default:
		a.comment = text;
		break;
	}
	if (action == WF_ACTION_REGISTER)
		a.category = proposed_category(h->app, c, category, sizeof category);
	struct casework_actor who = {actor, role, {actor, ""}};
	struct history_entry *e = &h->e[h->n];
	uint32_t allowed;
	const char *why;
	struct json_problem p;
	enum cd_err rc = casework_prepare(h->app, &who, c, &a, &e->ch, &allowed, &why, &p);
	if (rc == CD_ERR_INVALID && action == WF_ACTION_DISPATCH) {
		a.unit = street_office(h->w, c->street_code);
		rc = a.unit ? casework_prepare(h->app, &who, c, &a, &e->ch, &allowed, &why, &p) : rc;
	}
	if (rc)
		return rc;
	history_marks(&e->ch.after, action, at);
	e->case_id = c->id;
	e->expected_version = c->version;
	e->has_event = true;
	h->n++;
	*c = e->ch.after;
	c->version++;
	return CD_OK;
}

/* After its history, an open case is handed to the deadline scheduler, which marks it (with
 * events, now) if its warning point or deadline has passed. Until then seeded cases carry the
 * marks (see seed_run), so the scheduler leaves them alone while their past is being written.
 * The marks are cleared in the case's last queued step, or in a step of their own when it took
 * none. */
static void history_release(struct history *h, struct store_case *c)
{
	enum workflow_state s;
	if (workflow_state_parse(c->status, &s) || workflow_state_is_final(s))
		return;
	c->warned = c->overdue = 0;
	if (h->n && h->e[h->n - 1].case_id == c->id) {
		h->e[h->n - 1].ch.after.warned = h->e[h->n - 1].ch.after.overdue = 0;
		return;
	}
	struct history_entry *e = &h->e[h->n++];
	memset(&e->ch, 0, sizeof e->ch);
	e->ch.after = *c;
	e->case_id = c->id;
	e->expected_version = c->version;
	e->has_event = false;
	c->version++;
}

/* Gives a case whose past could not be written to the scheduler as it is stored. */
static void history_give_back(struct app *app, int64_t case_id)
{
	struct store_case *c = xmalloc(sizeof *c);
	struct store_actor sys = {"system", ""};
	enum workflow_state s;
	if (store_case_get_by_id(app->st, case_id, c) == CD_OK && !workflow_state_parse(c->status, &s) &&
	    !workflow_state_is_final(s) && (c->warned || c->overdue)) {
		int64_t v = c->version;
		c->warned = c->overdue = 0;
		if (store_case_apply(app->st, &sys, case_id, v, c, NULL, NULL, 0))
			log_warn("demo: case not released to the scheduler", "\"case\":\"%s\"", c->ref);
	}
	xfree(c);
}

/* Writes the queued steps in one transaction. When a case changed meanwhile (someone acted on
 * it in the console while it was being seeded), its past is dropped and the rest written. */
static enum cd_err history_flush(struct history *h)
{
	struct timespec t0, t1;
	enum cd_err rc = CD_OK;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Each failed attempt drops one case, so this ends within as many attempts as cases. */
	while (h->n) {
		for (size_t i = 0; i < h->n; i++) {
			struct history_entry *e = &h->e[i];
			h->actors[i].name = e->has_event ? e->ch.ev.actor : "system";
			h->actors[i].client = "";
			h->steps[i] = (struct store_case_step){e->case_id, e->expected_version, &e->ch.after,
								e->has_event ? &e->ch.ev : NULL, e->ch.deltas,
								e->ch.ndeltas, &h->actors[i]};
		}
		size_t failed = 0;
		rc = store_case_apply_steps(h->app->st, h->steps, h->n, &failed);
		if (!rc) {
			for (size_t i = 0; i < h->n; i++)
				h->written += h->e[i].has_event;
			h->n = 0;
			break;
		}
		if (failed >= h->n || (rc != CD_ERR_CONFLICT && rc != CD_ERR_NOTFOUND && rc != CD_ERR_INVALID))
			break;
		int64_t id = h->e[failed].case_id;
		log_warn("demo: a case changed while its past was written; that past is dropped",
			 "\"case\":\"%s\",\"error\":\"%s\"", h->e[failed].ch.after.ref, cd_err_name(rc));
		size_t k = 0;
		for (size_t i = 0; i < h->n; i++)
			if (h->e[i].case_id != id) {
				if (k != i)
					h->e[k] = h->e[i];
				k++;
			}
		h->n = k;
		h->dropped++;
		history_give_back(h->app, id);
		rc = CD_OK; /* the others are written on the next turn */
	}
	h->n = 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	h->write_s += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return rc;
}

/* `minutes` of working time after t (working hours and days of the calendar). */
static int64_t after_working(struct app *app, int64_t t, double minutes)
{
	struct cal_limit lim = {CAL_WORKING_HOURS, (int32_t)(minutes < 1 ? 1 : minutes)};
	int64_t out, warn;
	if (intake_deadline(app, t, lim, &out, &warn))
		return t + (int64_t)(minutes * 60);
	return out;
}

/* Log-normal-ish delay in working minutes around `median` (spread factor ~3). */
static double delay(struct world *w, double median)
{
	double z = 0;
	for (int i = 0; i < 4; i++)
		z += rng_unit(&w->rng) - 0.5;
	return median * exp(z * 1.9);
}

/* Plays one case's past up to `now`: each step happens at a plausible moment after the last,
 * and the case stops wherever `now` falls. Returns the steps recorded. */
static size_t play_history(struct history *h, struct store_case *c, int64_t now)
{
	struct app *app = h->app;
	struct world *w = h->w;
	size_t steps = 0;
	int64_t t = c->reported_at;
	const char *dispatcher = "dispatcher.district";
	const char *staff = "unit.staff";
	char unit_actor[STORE_USERNAME_MAX];
#define STEP(a, role, who, minutes, neg, sat, text)                                                    \
	do {                                                                                           \
		int64_t next_ = after_working(app, t, delay(w, (minutes)));                            \
		if (next_ >= now)                                                                      \
			return steps;                                                                  \
		enum cd_err rc_ = history_apply(h, c, (a), (role), (who), next_, (neg), (sat), (text)); \
		if (rc_) {                                                                             \
			log_warn("demo: history step refused",                                         \
				 "\"case\":\"%s\",\"action\":\"%s\",\"error\":\"%s\"", c->ref,         \
				 workflow_action_name(a), cd_err_name(rc_));                           \
			return steps;                                                                  \
		}                                                                                      \
		t = next_;                                                                             \
		steps++;                                                                               \
	} while (0)

	if (rng_chance(&w->rng, 0.04)) {
		STEP(WF_ACTION_REJECT, ROLE_DISTRICT_DISPATCHER, dispatcher, 40, false, WF_SAT_NONE,
		     reject_reasons[rng_below(&w->rng, 3)]);
		return steps;
	}
	STEP(WF_ACTION_REGISTER, ROLE_DISTRICT_DISPATCHER, dispatcher, 25, false, WF_SAT_NONE, NULL);
	if (rng_chance(&w->rng, 0.07)) { /* answered at the desk: a question, not a job */
		STEP(WF_ACTION_CLOSE, ROLE_DISTRICT_DISPATCHER, dispatcher, 30, false, WF_SAT_NONE,
		     "已电话答复市民。");
	} else {
		STEP(WF_ACTION_DISPATCH, ROLE_DISTRICT_DISPATCHER, dispatcher, 20, false, WF_SAT_NONE, NULL);
		snprintf(unit_actor, sizeof unit_actor, "staff.%s", c->unit_code);
		staff = unit_actor;
		for (int round = 0; round < 3; round++) {
			/* Most units sign within hours; handling takes about a working day, some take
			 * days (and a few run past their deadline). */
			if (round == 0)
				STEP(WF_ACTION_ACCEPT, ROLE_UNIT_STAFF, staff, 60, false, WF_SAT_NONE, NULL);
			STEP(WF_ACTION_HANDLE, ROLE_UNIT_STAFF, staff,
			     rng_chance(&w->rng, 0.3) ? (rng_chance(&w->rng, 0.3) ? 9000 : 2400) : 420, false,
			     WF_SAT_NONE, handle_results[rng_below(&w->rng, 6)]);
			bool fail = round == 0 && rng_chance(&w->rng, 0.06);
			STEP(WF_ACTION_VERIFY, ROLE_GRID_WORKER, "grid.worker", 90, fail, WF_SAT_NONE,
			     fail ? "现场核查未整改到位" : "现场核查已整改");
			if (!fail)
				break;
		}
		STEP(WF_ACTION_CLOSE, ROLE_DISTRICT_DISPATCHER, dispatcher, 45, false, WF_SAT_NONE, NULL);
	}
	for (int rated = 0; rated < 2; rated++) {
		if (!c->reporter_phone[0] || !rng_chance(&w->rng, 0.72))
			return steps; /* most residents answer the callback; patrol finds have nobody to ask
				       */
		double u = rng_unit(&w->rng);
		enum workflow_satisfaction sat = u < 0.76   ? WF_SAT_SATISFIED
						 : u < 0.94 ? WF_SAT_BASICALLY_SATISFIED
							    : WF_SAT_DISSATISFIED;
		if (rated == 1 && sat == WF_SAT_DISSATISFIED)
			sat = WF_SAT_BASICALLY_SATISFIED;
		STEP(WF_ACTION_RATE, ROLE_CITIZEN, "resident", 300, sat == WF_SAT_DISSATISFIED, sat,
		     sat == WF_SAT_DISSATISFIED ? "问题没有真正解决" : NULL);
		if (sat != WF_SAT_DISSATISFIED)
			return steps;
		/* Reopened to the same unit: handled again, verified, closed, and rated again. */
		STEP(WF_ACTION_ACCEPT, ROLE_UNIT_STAFF, staff, 60, false, WF_SAT_NONE, NULL);
		STEP(WF_ACTION_HANDLE, ROLE_UNIT_STAFF, staff, 600, false, WF_SAT_NONE, handle_results[0]);
		STEP(WF_ACTION_VERIFY, ROLE_GRID_WORKER, "grid.worker", 90, false, WF_SAT_NONE, "复查已整改");
		STEP(WF_ACTION_CLOSE, ROLE_DISTRICT_DISPATCHER, dispatcher, 45, false, WF_SAT_NONE, NULL);
	}
#undef STEP
	return steps;
}

/* ---- seeding ----------------------------------------------------------------------------- */

#define SEED_WINDOW 256 /* cases in flight in the commit queue at once */

struct seed_batch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t pending;
	struct store_case c[SEED_WINDOW];
	struct store_case_event ev[SEED_WINDOW];
	struct similar_case sig[SEED_WINDOW];
	struct commit_slot slot[SEED_WINDOW];
	enum cd_err rc[SEED_WINDOW];
	struct seed_done {
		struct seed_batch *b;
		size_t i;
	} done[SEED_WINDOW];
};

static void seed_stored(void *ctx, enum cd_err rc)
{
	struct seed_done *d = ctx;
	pthread_mutex_lock(&d->b->mu);
	d->b->rc[d->i] = rc;
	if (--d->b->pending == 0)
		pthread_cond_signal(&d->b->cv);
	pthread_mutex_unlock(&d->b->mu);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Report times over the period, oldest first: busier in the day, on working days and in the
 * rainy summer months, with a gentle rise over the year. */
static int64_t *report_times(struct world *w, size_t n, int64_t now, int days)
{
	int64_t *ts = xmalloc(n * sizeof *ts);
	int64_t start = now - (int64_t)days * 86400;
	static const double hour_weight[24] = {0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.8, 2.4, 2.6, 2.4,
					       1.8, 2.0, 2.3, 2.3, 2.1, 1.9, 1.6, 1.5, 1.6, 1.5, 1.1, 0.6};
	for (size_t i = 0; i < n; i++) {
		for (;;) {
			int64_t t = start + (int64_t)(rng_unit(&w->rng) * (double)(now - 120 - start));
			struct tm tm;
			time_t tt = (time_t)(t + 8 * 3600);
			gmtime_r(&tt, &tm);
			double p = hour_weight[tm.tm_hour] / 2.6;
			p *= (tm.tm_wday == 0 || tm.tm_wday == 6) ? 0.7 : 1.0;
			p *= 0.8 + 0.2 * sin((tm.tm_yday - 80) * 2 * M_PI / 365.0);
			p *= 0.8 + 0.2 * (double)(t - start) / (double)(now - start);
			if (rng_unit(&w->rng) < p) {
				ts[i] = t;
				break;
			}
		}
	}
	return ts;
}

static int cmp_time(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

bool demo_store_empty(struct app *app)
{
	struct store_case_filter f;
	struct store_case_page pg;
	memset(&f, 0, sizeof f);
	memset(&pg, 0, sizeof pg);
	if (store_cases_list(app->st, &f, 0, 1, &pg))
		return false;
	bool empty = pg.n == 0;
	store_case_page_release(&pg);
	return empty;
}

/* The seeding proper; `stop` (may be NULL) is polled between batches. */
static enum cd_err seed_run(struct app *app, const struct demo_options *opt, struct demo_seed_stats *out,
			    const atomic_int *stop)
{
	struct demo_seed_stats stats;
	memset(&stats, 0, sizeof stats);
	if (!opt->cases || opt->cases > DEMO_MAX_CASES || opt->days < 1 || opt->days > 3660 || !app->intake)
		return CD_ERR_INVALID;
	if (!demo_store_empty(app))
		return CD_ERR_CONFLICT;
	struct world w;
	enum cd_err rc = world_build(app, &w, opt->seed, opt->texts);
	if (rc)
		return rc;
	stats.texts = w.ntexts;
	int64_t now = (int64_t)time(NULL);
	int64_t *ts = report_times(&w, opt->cases, now, opt->days);
	qsort(ts, opt->cases, sizeof *ts, cmp_time);
	int64_t similar_from = now;
	if (app->similar) {
		struct similar_config sc;
		similar_get_config(app->similar, &sc);
		similar_from = now - sc.window_s;
	}
	int64_t *recent = NULL; /* ids of cases within the duplicate finder's window */
	size_t nrecent = 0;
	struct seed_batch *b = xcalloc(1, sizeof *b);
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	struct fake_report *f = xmalloc(sizeof *f);
	struct history h;
	history_init(&h, app, &w);
	struct timespec t0;
	double intake_s = 0, steps_s = 0;
	/* Newest first: the console has the recent weeks (open cases, live deadlines) within
	 * seconds, while the older, closed months fill in behind them. */
	for (size_t done = 0; done < opt->cases && !rc && !(stop && atomic_load(stop)); done += SEED_WINDOW) {
		size_t n = opt->cases - done < SEED_WINDOW ? opt->cases - done : SEED_WINDOW;
		size_t base = opt->cases - done - n;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		size_t submitted = 0;
		b->pending = 0;
		for (size_t i = 0; i < n; i++) {
			struct intake_request in;
			struct json_problem p;
			b->rc[i] = CD_ERR_INVALID;
			fake_report(&w, f);
			fill_request(f, ts[base + i], &in);
			/* Texts with a place outside every community (rare) are simply refused. */
			if (intake_prepare(app, &in, &b->c[i], &b->ev[i], &b->sig[i], &p)) {
				stats.refused++;
				continue;
			}
			b->ev[i].at = ts[base + i];	      /* the report happened then, not now */
			b->c[i].warned = b->c[i].overdue = 1; /* not the scheduler's yet: history_release */
			b->done[i].b = b;
			b->done[i].i = i;
			pthread_mutex_lock(&b->mu);
			b->pending++;
			pthread_mutex_unlock(&b->mu);
			if (commit_queue_submit_async(app->intake, &b->c[i], &b->ev[i], &b->slot[i],
						      seed_stored, &b->done[i])) {
				pthread_mutex_lock(&b->mu);
				b->pending--;
				pthread_mutex_unlock(&b->mu);
				rc = CD_ERR_BUSY;
				break;
			}
			submitted++;
		}
		pthread_mutex_lock(&b->mu);
		while (b->pending)
			pthread_cond_wait(&b->cv, &b->mu);
		pthread_mutex_unlock(&b->mu);
		intake_s += seconds_since(&t0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (size_t i = 0; i < n && submitted; i++) {
			if (b->rc[i] != CD_OK)
				continue;
			stats.cases++;
			if (b->c[i].reported_at >= similar_from) { /* indexed at the end, oldest first */
				recent = xrealloc(recent, (nrecent + 1) * sizeof *recent);
				recent[nrecent++] = b->c[i].id;
			}
			play_history(&h, &b->c[i], now);
			history_release(&h, &b->c[i]);
			if (h.n >= HISTORY_FLUSH_STEPS && !rc)
				rc = history_flush(&h);
		}
		steps_s += seconds_since(&t0);
		stats.steps = h.written;
		if ((done / SEED_WINDOW) % 8 == 7)
			log_info("demo seeding", "\"cases\":%zu,\"of\":%zu,\"steps\":%zu", stats.cases,
				 opt->cases, stats.steps);
	}
	if (h.n) {
		struct timespec t1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		enum cd_err frc = history_flush(&h);
		rc = rc ? rc : frc;
		steps_s += seconds_since(&t1);
	}
	stats.steps = h.written;
	stats.dropped = h.dropped;
	stats.write_seconds = h.write_s;
	history_release_all(&h);
	/* The duplicate finder learns the recent cases in the order they came in (during the
	 * seeding it knew none, so no case was marked a duplicate of a later one). */
	struct store_case *rc_case = xmalloc(sizeof *rc_case);
	for (size_t k = nrecent; k-- > 0;)
		if (store_case_get_by_id(app->st, recent[k], rc_case) == CD_OK)
			intake_index_case(app, rc_case, NULL);
	xfree(rc_case);
	xfree(recent);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	xfree(b);
	xfree(f);
	xfree(ts);
	world_release(&w);
	if (!rc) {
		struct store_actor sys = {"system", ""};
		char when[32];
		snprintf(when, sizeof when, "%lld", (long long)now);
		if (store_meta_set(app->st, &sys, "demo_seeded", when))
			log_warn("demo: could not record the seeding", NULL);
		if (store_cases_optimize(app->st))
			log_warn("demo: could not refresh the case statistics", NULL);
	}
	stats.intake_seconds = intake_s;
	stats.steps_seconds = steps_s;
	if (out)
		*out = stats;
	return rc;
}

enum cd_err demo_seed(struct app *app, const struct demo_options *opt, struct demo_seed_stats *stats)
{
	return seed_run(app, opt, stats, NULL);
}

void demo_options_default(const struct app *app, struct demo_options *opt)
{
	memset(opt, 0, sizeof *opt);
	opt->cases = DEMO_DEFAULT_CASES;
	opt->days = 365;
	opt->seed = UINT64_C(20261127);
	snprintf(opt->texts, sizeof opt->texts, "%.4000s/../demo/messages.csv",
		 config_get(&app->cfg, CFG_DISTRICT));
}

enum cd_err demo_parse_setting(const char *value, size_t *cases)
{
	*cases = 0;
	if (!value || !*value || strcmp(value, "off") == 0 || strcmp(value, "0") == 0 ||
	    strcmp(value, "no") == 0)
		return CD_OK;
	if (strcmp(value, "on") == 0 || strcmp(value, "yes") == 0) {
		*cases = DEMO_DEFAULT_CASES;
		return CD_OK;
	}
	char *end;
	long long n = strtoll(value, &end, 10);
	if (*end || n < 1 || n > DEMO_MAX_CASES)
		return CD_ERR_INVALID;
	*cases = (size_t)n;
	return CD_OK;
}

/* ---- the running demo -------------------------------------------------------------------- */

#define DEMO_TICK_MS 4000 /* a new report about this often */

struct demo {
	struct app *app;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_int stop; /* set by demo_stop */
	size_t cases;	 /* cases to seed an empty store with */
	struct demo_options opt;
	struct world w; /* built when the simulator starts */
	uint64_t ticks;
};

/* ---- devices: telemetry and now and then a fire alarm ----------------------------------- */

/* The IoT hub (src/app/iot.c) is linked into the server when IoT is wired in; a program that
 * links the demo without it (a unit test) sees NULL here and the demo sends no device data. */
#pragma weak iot_telemetry_in
#pragma weak iot_event_in

#define DEMO_DEVICES 24	    /* registered by the demo when the registry is empty */
#define DEMO_ALARM_TICKS 45 /* a fire alarm about every this many ticks (~3 minutes) */

static const struct demo_device_kind {
	const char *type;
	const char *name;
	const char *site;
} device_kinds[] = {
    {"smoke_detector", "独立式烟感", "出租屋"},
    {"smoke_detector", "无线烟感", "老旧小区楼道"},
    {"electrical_fire_monitor", "电气火灾监控", "城中村配电房"},
    {"hydrant_pressure", "消火栓水压监测", "市政消火栓"},
    {"water_meter", "智能水表", "党群服务中心"},
};

struct device_pick {
	struct iot_device dev[DEMO_DEVICES * 2];
	size_t n;
};

static void collect_device(void *ctx, const struct iot_device *dev)
{
	struct device_pick *pk = ctx;
	if (dev->active && pk->n < sizeof pk->dev / sizeof pk->dev[0])
		pk->dev[pk->n++] = *dev;
}

/* Registers a few devices at plausible places when the registry has none. */
static void register_devices(struct demo *d)
{
	size_t total = 0;
	devices_count(d->app->devices, &total, NULL);
	if (total)
		return;
	struct store_actor sys = {"system", ""};
	for (size_t i = 0; i < DEMO_DEVICES; i++) {
		const struct demo_device_kind *k =
		    &device_kinds[i % (sizeof device_kinds / sizeof device_kinds[0])];
		const struct demo_place *p = pick_place(&d->w);
		struct iot_device dev;
		char secret[65];
		struct json_problem prob;
		memset(&dev, 0, sizeof dev);
		snprintf(dev.id, sizeof dev.id, "demo-%s-%02zu", k->type, i);
		snprintf(dev.type, sizeof dev.type, "%s", k->type);
		snprintf(dev.name, sizeof dev.name, "%s %02zu", k->name, i);
		snprintf(dev.site, sizeof dev.site, "%.60s%.40s", p->name, k->site);
		snprintf(dev.owner, sizeof dev.owner, "%.60s工作站", p->name);
		snprintf(dev.tags, sizeof dev.tags, "%s",
			 strcmp(k->type, "water_meter") == 0 ? "elderly_alone" : "fire");
		dev.has_point = pick_point(&d->w, p, &dev.lat, &dev.lng);
		if (devices_create(d->app, &sys, &dev, secret, &prob))
			log_warn("demo: device not registered", "\"id\":\"%s\",\"field\":\"%s\"", dev.id,
				 prob.field);
	}
}

static void add_value(struct iot_telemetry *t, const char *metric, double value)
{
	if (t->n >= IOT_MAX_VALUES)
		return;
	snprintf(t->v[t->n].metric, sizeof t->v[t->n].metric, "%s", metric);
	t->v[t->n++].value = value;
}

/* One tick of device data: a reading from a few devices, and now and then a fire alarm. */
static void demo_iot_tick(struct demo *d)
{
	if (!d->app->devices || !d->app->iot || !iot_telemetry_in || !iot_event_in)
		return;
	if (d->ticks == 1)
		register_devices(d);
	struct device_pick *pk = xmalloc(sizeof *pk);
	pk->n = 0;
	devices_each(d->app->devices, collect_device, pk);
	int64_t now_ms = (int64_t)time(NULL) * 1000;
	for (size_t i = 0; i < pk->n; i++) {
		const struct iot_device *dev = &pk->dev[i];
		struct iot_telemetry t;
		memset(&t, 0, sizeof t);
		snprintf(t.device, sizeof t.device, "%s", dev->id);
		t.ts_ms = now_ms;
		if (strcmp(dev->type, "smoke_detector") == 0) {
			add_value(&t, "smoke_obscuration", 0.02 + 0.05 * rng_unit(&d->w.rng));
			add_value(&t, "battery", 70 + 30 * rng_unit(&d->w.rng));
		} else if (strcmp(dev->type, "electrical_fire_monitor") == 0) {
			add_value(&t, "residual_current_ma", 80 + 120 * rng_unit(&d->w.rng));
			add_value(&t, "temperature_c", 28 + 12 * rng_unit(&d->w.rng));
		} else if (strcmp(dev->type, "hydrant_pressure") == 0) {
			add_value(&t, "pressure_mpa", 0.28 + 0.12 * rng_unit(&d->w.rng));
		} else if (strcmp(dev->type, "water_meter") == 0) {
			add_value(&t, "flow_m3h", 0.3 * rng_unit(&d->w.rng));
		} else {
			continue;
		}
		iot_telemetry_in(d->app, IOT_SRC_INGEST, &t);
	}
	if (pk->n && d->ticks % DEMO_ALARM_TICKS == DEMO_ALARM_TICKS / 2) {
		const struct iot_device *dev = &pk->dev[rng_below(&d->w.rng, pk->n)];
		if (strcmp(dev->type, "smoke_detector") == 0 ||
		    strcmp(dev->type, "electrical_fire_monitor") == 0) {
			struct iot_event e;
			memset(&e, 0, sizeof e);
			snprintf(e.device, sizeof e.device, "%s", dev->id);
			e.ts_ms = now_ms;
			snprintf(e.type, sizeof e.type, "fire_alarm");
			snprintf(e.level, sizeof e.level, "red");
			snprintf(e.detail, sizeof e.detail, "{\"zone\":\"%s\",\"demo\":true}", dev->site);
			iot_event_in(d->app, IOT_SRC_INGEST, &e);
			log_info("demo: fire alarm", "\"device\":\"%s\"", dev->id);
		}
	}
	xfree(pk);
}

/* ---- the simulator ------------------------------------------------------------------------ */

/* Sleeps ms or until demo_stop; true when stopping. */
static bool nap(struct demo *d, unsigned ms)
{
	struct timespec until;
	clock_deadline_in(&until, ms);
	pthread_mutex_lock(&d->mu);
	while (!atomic_load(&d->stop) && pthread_cond_timedwait(&d->cv, &d->mu, &until) == 0)
		;
	pthread_mutex_unlock(&d->mu);
	return atomic_load(&d->stop) != 0;
}

/* A resident, grid worker or camera reports something now. */
static void simulate_report(struct demo *d)
{
	struct fake_report *f = xmalloc(sizeof *f);
	struct store_case *c = xmalloc(sizeof *c);
	struct intake_request in;
	struct json_problem p;
	bool created = false;
	fake_report(&d->w, f);
	fill_request(f, 0, &in);
	if (intake_submit(d->app, &in, c, &created, &p) != CD_OK)
		log_warn("demo: report refused", "\"field\":\"%s\"", p.field);
	xfree(f);
	xfree(c);
}

/* The next step a case takes in the simulation, with who takes it. */
static bool next_step(struct demo *d, const struct store_case *c, struct casework_action *a,
		      struct casework_actor *who, char *actor_name, size_t cap)
{
	enum workflow_state s;
	if (workflow_state_parse(c->status, &s))
		return false;
	memset(a, 0, sizeof *a);
	a->approved = true;
	who->role = ROLE_DISTRICT_DISPATCHER;
	snprintf(actor_name, cap, "dispatcher.district");
	switch (s) {
	case WF_STATE_REPORTED:
		a->action = WF_ACTION_REGISTER;
		break;
	case WF_STATE_REGISTERED:
		a->action = WF_ACTION_DISPATCH;
		break;
	case WF_STATE_DISPATCHED:
		a->action = WF_ACTION_ACCEPT;
		break;
	case WF_STATE_ACCEPTED:
		a->action = WF_ACTION_HANDLE;
		a->result = handle_results[rng_below(&d->w.rng, 6)];
		break;
	case WF_STATE_HANDLED:
		a->action = WF_ACTION_VERIFY;
		a->passed = !rng_chance(&d->w.rng, 0.06);
		a->comment = a->passed ? "现场核查已整改" : "现场核查未整改到位";
		who->role = ROLE_GRID_WORKER;
		snprintf(actor_name, cap, "grid.worker");
		break;
	case WF_STATE_VERIFIED:
		a->action = WF_ACTION_CLOSE;
		break;
	case WF_STATE_CLOSED: {
		double u = rng_unit(&d->w.rng);
		a->action = WF_ACTION_RATE;
		a->satisfaction = u < 0.76   ? WF_SAT_SATISFIED
				  : u < 0.95 ? WF_SAT_BASICALLY_SATISFIED
					     : WF_SAT_DISSATISFIED;
		who->role = ROLE_CITIZEN;
		snprintf(actor_name, cap, "resident");
		break;
	}
	default:
		return false;
	}
	if (s == WF_STATE_DISPATCHED || s == WF_STATE_ACCEPTED) {
		who->role = ROLE_UNIT_STAFF;
		snprintf(actor_name, cap, "staff.%s", c->unit_code);
	}
	return true;
}

/* Moves one open case a step, as the people behind the console would. */
static void simulate_step(struct demo *d)
{
	static const char *const states[] = {"reported", "reported", "registered", "dispatched", "dispatched",
					     "accepted", "accepted", "handled",	   "verified",	 "closed"};
	struct store_case_filter f;
	struct store_case_page pg;
	memset(&f, 0, sizeof f);
	memset(&pg, 0, sizeof pg);
	f.status = states[rng_below(&d->w.rng, sizeof states / sizeof states[0])];
	if (store_cases_list(d->app->st, &f, 0, 40, &pg) || pg.n == 0) {
		store_case_page_release(&pg);
		return;
	}
	struct store_case *c = xmalloc(sizeof *c);
	*c = pg.cases[rng_below(&d->w.rng, pg.n)];
	store_case_page_release(&pg);
	struct casework_action a;
	struct casework_actor who;
	char actor_name[STORE_USERNAME_MAX], category[STORE_CATEGORY_MAX];
	if (next_step(d, c, &a, &who, actor_name, sizeof actor_name)) {
		if (a.action == WF_ACTION_REGISTER)
			a.category = proposed_category(d->app, c, category, sizeof category);
		who.username = actor_name;
		who.store_actor.name = actor_name;
		who.store_actor.client = "";
		uint32_t allowed;
		const char *why;
		struct json_problem p;
		enum cd_err rc = casework_apply(d->app, &who, c, &a, &allowed, &why, &p);
		if (rc == CD_ERR_INVALID && a.action == WF_ACTION_DISPATCH) {
			a.unit =
			    street_office(&d->w, c->street_code); /* nobody on the list: the street office */
			rc = a.unit ? casework_apply(d->app, &who, c, &a, &allowed, &why, &p) : rc;
		}
		if (rc && rc != CD_ERR_CONFLICT)
			log_warn("demo: step refused", "\"case\":\"%s\",\"error\":\"%s\"", c->ref,
				 cd_err_name(rc));
	}
	xfree(c);
}

/* True when the store was made by the demo (it set "demo_store" before seeding): the only
 * store the simulator may act on. Real reports are never worked by invented staff. */
static bool demo_store_marked(struct app *app)
{
	char v[8] = "";
	return store_meta_get(app->st, "demo_store", v, sizeof v) == CD_OK && strcmp(v, "1") == 0;
}

static void *demo_main(void *arg)
{
	struct demo *d = arg;
	if (d->cases && demo_store_empty(d->app)) {
		struct store_actor sys = {"system", ""};
		if (store_meta_set(d->app->st, &sys, "demo_store", "1")) {
			log_error("demo: could not mark the store as the demo's; the demo stops", NULL);
			return NULL;
		}
		struct demo_seed_stats st;
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		log_info("demo seeding starts", "\"cases\":%zu,\"days\":%d", d->opt.cases, d->opt.days);
		enum cd_err rc = seed_run(d->app, &d->opt, &st, &d->stop);
		if (rc)
			log_error("demo seeding failed", "\"error\":\"%s\"", cd_err_name(rc));
		else
			log_info(
			    "demo seeded",
			    "\"cases\":%zu,\"refused\":%zu,\"steps\":%zu,\"dropped\":%zu,\"texts\":%zu,"
			    "\"intake_s\":%.2f,\"steps_s\":%.2f,\"write_s\":%.2f,\"seconds\":%.2f",
			    st.cases, st.refused, st.steps, st.dropped, st.texts, st.intake_seconds,
			    st.steps_seconds, st.write_seconds, seconds_since(&t0));
	} else if (!demo_store_marked(d->app)) {
		log_error("demo: the store holds cases the demo did not make; the demo leaves it alone "
			  "(use an empty data directory for the demo)",
			  NULL);
		return NULL;
	} else {
		log_info("demo: the store already holds the demo's cases; simulating only", NULL);
	}
	if (world_build(d->app, &d->w, d->opt.seed ^ (uint64_t)time(NULL), d->opt.texts)) {
		log_error("demo: no map to simulate on", NULL);
		return NULL;
	}
	while (!nap(d, DEMO_TICK_MS / 2 + (unsigned)rng_below(&d->w.rng, DEMO_TICK_MS))) {
		d->ticks++;
		simulate_report(d);
		for (int k = 0; k < 3; k++)
			simulate_step(d);
		demo_iot_tick(d);
	}
	return NULL;
}

enum cd_err demo_start(struct app *app, struct demo **out)
{
	size_t cases = 0;
	*out = NULL;
	if (demo_parse_setting(config_get(&app->cfg, CFG_DEMO), &cases)) {
		log_error("demo: CITYDESK_DEMO is on, off or a number of cases", "\"value\":\"%s\"",
			  config_get(&app->cfg, CFG_DEMO));
		return CD_ERR_INVALID;
	}
	if (!cases)
		return CD_OK;
	struct demo *d = xcalloc(1, sizeof *d);
	d->app = app;
	d->cases = cases;
	demo_options_default(app, &d->opt);
	d->opt.cases = cases;
	atomic_init(&d->stop, 0);
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	if (pthread_create(&d->thread, NULL, demo_main, d) != 0) {
		pthread_cond_destroy(&d->cv);
		pthread_mutex_destroy(&d->mu);
		xfree(d);
		return CD_ERR_NOMEM;
	}
	*out = d;
	return CD_OK;
}

void demo_stop(struct demo *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	atomic_store(&d->stop, 1);
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	world_release(&d->w);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	log_info("demo stopped", "\"ticks\":%llu", (unsigned long long)d->ticks);
	xfree(d);
}
