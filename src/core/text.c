/* Chinese text normalization (clean, NFKC via utf8proc, Traditional to Simplified via OpenCC,
 * punctuation noise) and the n-gram tokens the models and signatures are built from.
 * Design and figures: docs/internals/text.md. */
#include "core/text.h"

#include <opencc/opencc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "util/alloc.h"
#include "util/buf.h"

/* Where Debian's libopencc-data puts the configurations and dictionaries. OpenCC itself looks
 * there too when given a bare file name; the full path keeps the error message useful. */
#define TEXT_OPENCC_DIR "/usr/share/opencc/"
#define TEXT_DEFAULT_CONFIG "hk2s.json"

struct text_norm {
	opencc_t cc;              /* shared read-only by every thread; OpenCC's Convert is const */
	uint8_t trigger[0x10000 / 8]; /* BMP characters OpenCC changes when they stand alone */
};

/* Bit cp of the trigger map; characters past the BMP always count (they are rare). */
static bool is_trigger(const struct text_norm *tn, int32_t cp)
{
	if (cp >= 0x10000)
		return true;
	return tn->trigger[cp >> 3] & (1u << (cp & 7));
}

/* ---- UTF-8 ---------------------------------------------------------------------------- */

/* Decodes one character at s[*i] (i < len). Returns it and advances *i; on a malformed or
 * truncated sequence returns -1 and advances one byte. */
static int32_t utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	size_t p = *i;
	unsigned char c = s[p];
	if (c < 0x80) {
		*i = p + 1;
		return c;
	}
	int32_t cp;
	size_t n;
	int32_t min;
	if (c >= 0xC2 && c <= 0xDF) {
		cp = c & 0x1F, n = 2, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		cp = c & 0x0F, n = 3, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		cp = c & 0x07, n = 4, min = 0x10000;
	} else {
		*i = p + 1;
		return -1;
	}
	if (n > len - p) {
		*i = p + 1;
		return -1;
	}
	for (size_t k = 1; k < n; k++) {
		unsigned char cc = s[p + k];
		if ((cc & 0xC0) != 0x80) {
			*i = p + 1;
			return -1;
		}
		cp = (cp << 6) | (cc & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
		*i = p + 1;
		return -1;
	}
	*i = p + n;
	return cp;
}

/* Writes cp as UTF-8 at out (room for 4 bytes assumed); returns the byte count. */
static size_t utf8_put(unsigned char *out, int32_t cp)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xC0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xE0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (unsigned char)(0xF0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

bool text_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		if (utf8_next(u, len, &i) < 0)
			return false;
	}
	return true;
}

/* Characters that carry nothing visible and only break matching: zero-width spaces and joiners,
 * bidirectional controls, the BOM, soft hyphen, variation selectors and tags. */
static bool is_invisible(int32_t cp)
{
	return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2060 && cp <= 0x206F) || cp == 0xFEFF || cp == 0x00AD || cp == 0x180E ||
	       cp == 0x034F || (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xFFF9 && cp <= 0xFFFB) ||
	       (cp >= 0xE0000 && cp <= 0xE0FFF);
}

/* Whitespace in any script, including line and paragraph separators and NEL. */
static bool is_space(int32_t cp)
{
	if (cp < 0x80)
		return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
	if (cp == 0x85 || cp == 0xA0 || cp == 0x1680 || cp == 0x3000 || cp == 0x202F ||
	    cp == 0x205F || cp == 0x2028 || cp == 0x2029)
		return true;
	return cp >= 0x2000 && cp <= 0x200A;
}

static bool is_control(int32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

/* ---- stages ---------------------------------------------------------------------------- */

/* Stage 1: bytes to clean UTF-8 in out (room for 3 * len + 1 bytes: a bad byte becomes the
 * 3-byte U+FFFD). Runs of bad bytes become one U+FFFD; controls and invisible characters go;
 * whitespace becomes ASCII spaces (runs are folded at the last stage). Returns the length. */
static size_t stage_clean(const unsigned char *in, size_t len, unsigned char *out)
{
	size_t i = 0, o = 0;
	bool last_bad = false;
	while (i < len) {
		int32_t cp;
		if (in[i] < 0x80)
			cp = in[i++];
		else
			cp = utf8_next(in, len, &i);
		if (cp < 0) {
			if (!last_bad)
				o += utf8_put(out + o, 0xFFFD);
			last_bad = true;
			continue;
		}
		last_bad = false;
		if (is_space(cp)) {
			out[o++] = ' ';
			continue;
		}
		if (is_control(cp) || is_invisible(cp))
			continue;
		o += utf8_put(out + o, cp);
	}
	out[o] = '\0';
	return o;
}

/* What NFKC makes of cp when the answer needs no neighbour: cp itself for ASCII, CJK Unified
 * Ideographs and the common Chinese punctuation (none decomposes, none combines with what
 * stands next to it), the ASCII twin for full-width ASCII; -1 for anything else.
 * tests/unit/test_text.c checks every one of them against utf8proc. */
static int32_t nfkc_alone(int32_t cp)
{
	if (cp < 0x80 || (cp >= 0x4E00 && cp <= 0x9FFF))
		return cp;
	if (cp >= 0xFF01 && cp <= 0xFF5E)
		return cp - 0xFEE0;
	switch (cp) {
	case 0x00B7: /* · */
	case 0x2014: /* — */
	case 0x2018: case 0x2019: case 0x201C: case 0x201D: /* ‘’“” */
	case 0x3001: case 0x3002: /* 、。 */
	case 0x300A: case 0x300B: case 0x300C: case 0x300D: /* 《》「」 */
	case 0x3010: case 0x3011: /* 【】 */
		return cp;
	default:
		return -1;
	}
}

bool text_nfkc_simple(const char *in, size_t n, char *out, size_t *out_len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0;
	while (i < n) {
		size_t at = i;
		int32_t cp = s[i] < 0x80 ? s[i++] : utf8_next(s, n, &i);
		int32_t to = cp < 0 ? -1 : nfkc_alone(cp);
		if (to < 0)
			return false;
		if (to == cp) {
			memcpy(out + o, s + at, i - at);
			o += i - at;
		} else {
			o += utf8_put((unsigned char *)out + o, to);
		}
	}
	out[o] = '\0';
	*out_len = o;
	return true;
}

/* Stage 2: NFKC of s[0..n) (valid UTF-8, no NUL) into memory this function allocates (*res,
 * free with xfree). Text of Chinese, ASCII and their punctuation alone (nearly every report)
 * takes text_nfkc_simple: utf8proc's decomposition into UTF-32 and back was half of
 * normalizing a report. Anything else goes through utf8proc, which re-encodes in place. */
static enum cd_err stage_nfkc(const unsigned char *s, size_t n, unsigned char **res, size_t *res_len)
{
	unsigned char *simple = try_malloc(n + 1);
	if (!simple)
		return CD_ERR_NOMEM;
	if (text_nfkc_simple((const char *)s, n, (char *)simple, res_len)) {
		*res = simple;
		return CD_OK;
	}
	xfree(simple);
	const utf8proc_option_t opts = UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_STABLE;
	/* Characters never outnumber bytes; compatibility decompositions rarely expand much, and
	 * a second pass with the exact size covers the rare case when they do. */
	size_t want = n + 64;
	for (int pass = 0; pass < 2; pass++) {
		utf8proc_int32_t *buf = try_malloc(want * sizeof *buf);
		if (!buf)
			return CD_ERR_NOMEM;
		utf8proc_ssize_t got = utf8proc_decompose(s, (utf8proc_ssize_t)n, buf,
							  (utf8proc_ssize_t)want, opts);
		if (got < 0) {
			xfree(buf);
			return got == UTF8PROC_ERROR_NOMEM ? CD_ERR_NOMEM : CD_ERR_INVALID;
		}
		if ((size_t)got > want) {
			xfree(buf);
			want = (size_t)got;
			continue;
		}
		utf8proc_ssize_t bytes = utf8proc_reencode(buf, got, opts);
		if (bytes < 0) {
			xfree(buf);
			return CD_ERR_INVALID;
		}
		*res = (unsigned char *)buf;
		*res_len = (size_t)bytes;
		return CD_OK;
	}
	return CD_ERR_INVALID; /* the exact size did not fit: utf8proc contradicted itself */
}

static bool is_ascii_alnum_cp(int32_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool has_non_ascii(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 0x80)
			return true;
	return false;
}

/* Marks whose repetition is emphasis, not content: "！！！", "～～", "。。。", "——". Not '*'
 * (masked numbers), '/' or '\\' (paths, URLs), brackets or quotes. */
static bool is_repeat_punct(int32_t cp)
{
	switch (cp) {
	case '!': case '?': case '~': case ',': case ';': case ':': case '-': case '_':
	case '#': case '=': case '+': case '^':
	case 0x3002: /* 。 */
	case 0x3001: /* 、 */
	case 0x301C: /* 〜 */
	case 0x2014: /* — */
	case 0x2015: /* ― */
	case 0x2026: /* … */
	case 0x00B7: /* · */
	case 0x30FB: /* ・ */
		return true;
	default:
		return false;
	}
}

/* Hong Kong and Taiwan write corner brackets where the mainland writes curly quotes; OpenCC
 * leaves punctuation alone, so a Traditional complaint and its Simplified twin differ here. */
static int32_t fold_quote(int32_t cp)
{
	switch (cp) {
	case 0x300C: return 0x201C; /* 「 to “ */
	case 0x300D: return 0x201D; /* 」 to ” */
	case 0x300E: return 0x2018; /* 『 to ‘ */
	case 0x300F: return 0x2019; /* 』 to ’ */
	default: return cp;
	}
}

/* Stage 4: copies s[0..n) into out (cap bytes incl. the NUL), folding whitespace runs to one
 * space (dropped at the ends; with TEXT_PUNCT dropped unless both neighbours are ASCII) and,
 * with TEXT_PUNCT, runs of one emphasis mark to a single mark ("!?" counts as one kind, and a
 * run of dots becomes "..."). Cuts only between characters. Returns true when all fitted. */
static bool stage_final(const unsigned char *s, size_t n, unsigned flags, char *out, size_t cap,
			size_t *out_len)
{
	const bool punct = flags & TEXT_PUNCT;
	size_t i = 0, o = 0;
	bool pending_space = false, fits = true;
	int32_t prev = -1; /* last character written */
	while (i < n) {
		int32_t cp = s[i] < 0x80 ? s[i++] : utf8_next(s, n, &i);
		if (cp < 0)
			cp = 0xFFFD; /* cannot happen after stage 1; keep output valid regardless */
		if (cp == ' ') {
			pending_space = o > 0;
			continue;
		}
		if (punct)
			cp = fold_quote(cp);
		if (punct && is_repeat_punct(cp) && prev >= 0) {
			bool bang = (cp == '!' || cp == '?') && (prev == '!' || prev == '?');
			if (cp == prev || bang) {
				pending_space = false;
				continue;
			}
		}
		if (punct && cp == '.' && prev == '.') {
			/* a run of dots (NFKC turns "……" into six): ".." and "......" become "..." */
			size_t dots = 0;
			while (dots < o && out[o - 1 - dots] == '.')
				dots++;
			pending_space = false;
			if (dots >= 3)
				continue;
			if (o + 1 >= cap) {
				fits = false;
				break;
			}
			out[o++] = '.';
			continue;
		}
		if (pending_space) {
			bool keep = !punct || (prev < 0x80 && cp < 0x80);
			if (keep) {
				if (o + 1 >= cap) {
					fits = false;
					break;
				}
				out[o++] = ' ';
			}
			pending_space = false;
		}
		unsigned char enc[4];
		size_t k = utf8_put(enc, cp); /* re-encoded: a folded quote or U+FFFD may differ */
		if (o + k >= cap) {
			fits = false;
			break;
		}
		memcpy(out + o, enc, k);
		o += k;
		prev = cp;
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return fits;
}

/* Punctuation and spaces end a segment: OpenCC's phrases never span them. */
static bool is_segment_break(int32_t cp)
{
	if (cp < 0x80)
		return !is_ascii_alnum_cp(cp);
	return (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x3000 && cp <= 0x303F) ||
	       (cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20);
}

/* Appends OpenCC's conversion of s[0..n) to b. The input is valid UTF-8 without NUL, so
 * OpenCC takes no error path (which would write its one global error string, the only part
 * of it that is not thread-safe); NULL can then only mean it could not allocate. */
static enum cd_err convert_append(const struct text_norm *tn, const unsigned char *s, size_t n,
				  struct buf *b)
{
	char *conv = opencc_convert_utf8(tn->cc, (const char *)s, n);
	if (!conv)
		return CD_ERR_NOMEM;
	enum cd_err rc = buf_append(b, conv, strlen(conv));
	opencc_convert_utf8_free(conv);
	return rc;
}

/* Stage 3: Traditional to Simplified. Only runs of segments holding a trigger character go
 * through OpenCC (most complaints in Luohu are Simplified already and skip it entirely: it
 * costs ~0.3 us a byte). *res (free with xfree) stays NULL when nothing needed converting. */
static enum cd_err stage_simplify(const struct text_norm *tn, const unsigned char *s, size_t n,
				  char **res, size_t *res_len)
{
	struct buf b;
	size_t i = 0, copied = 0, seg_start = 0;
	size_t region = SIZE_MAX, region_end = 0; /* pending run of triggered segments */
	bool seg_trig = false;
	enum cd_err rc = CD_OK;
	*res = NULL;
	buf_init(&b, 4 * (size_t)TEXT_MAX_INPUT);
	while (!rc) {
		size_t at = i;
		int32_t cp = -1; /* -1 at the end, which closes the last segment */
		if (i < n)
			cp = s[i] < 0x80 ? s[i++] : utf8_next(s, n, &i);
		if (cp >= 0 && !is_segment_break(cp)) {
			seg_trig = seg_trig || (cp >= 0x80 && is_trigger(tn, cp));
			continue;
		}
		/* the segment [seg_start, at) ends here */
		if (seg_trig) {
			if (region == SIZE_MAX)
				region = seg_start;
			region_end = at;
		} else if (region != SIZE_MAX && at > seg_start) {
			rc = buf_append(&b, s + copied, region - copied);
			if (!rc)
				rc = convert_append(tn, s + region, region_end - region, &b);
			copied = region_end;
			region = SIZE_MAX;
		}
		seg_trig = false;
		seg_start = i;
		if (at >= n)
			break;
	}
	if (!rc && region != SIZE_MAX) {
		rc = buf_append(&b, s + copied, region - copied);
		if (!rc)
			rc = convert_append(tn, s + region, region_end - region, &b);
		copied = region_end;
	}
	if (!rc && copied > 0)
		rc = buf_append(&b, s + copied, n - copied);
	if (rc || copied == 0) {
		buf_release(&b);
		*res_len = n;
		return rc;
	}
	*res = buf_detach(&b, res_len);
	return CD_OK;
}

/* ---- the normalizer ------------------------------------------------------------------- */

/* Fills tn->trigger: converts every non-ASCII BMP character on a line of its own in one call
 * (about 65 ms) and marks those that come back different. When the answer does not line up,
 * every character is marked and every text goes through OpenCC whole. */
static void build_triggers(struct text_norm *tn)
{
	size_t cap = 0x10000 * 4, o = 0;
	unsigned char *all = xmalloc(cap);
	for (int32_t cp = 0x80; cp < 0x10000; cp++) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		o += utf8_put(all + o, cp);
		all[o++] = '\n';
	}
	memset(tn->trigger, 0xFF, sizeof tn->trigger);
	char *conv = opencc_convert_utf8(tn->cc, (const char *)all, o);
	if (conv) {
		uint8_t map[sizeof tn->trigger] = {0};
		const char *p = (const char *)all, *q = conv;
		bool lined_up = true;
		for (int32_t cp = 0x80; cp < 0x10000 && lined_up; cp++) {
			if (cp >= 0xD800 && cp <= 0xDFFF)
				continue;
			const char *pe = strchr(p, '\n'), *qe = strchr(q, '\n');
			if (!pe || !qe) {
				lined_up = false;
				break;
			}
			if (pe - p != qe - q || memcmp(p, q, (size_t)(pe - p)) != 0)
				map[cp >> 3] |= (uint8_t)(1u << (cp & 7));
			p = pe + 1, q = qe + 1;
		}
		if (lined_up)
			memcpy(tn->trigger, map, sizeof map);
		opencc_convert_utf8_free(conv);
	}
	xfree(all);
}

enum cd_err text_norm_open(const char *opencc_config, struct text_norm **out)
{
	char path[512];
	const char *cfg = opencc_config ? opencc_config : TEXT_DEFAULT_CONFIG;
	*out = NULL;
	if (!strchr(cfg, '/')) {
		int w = snprintf(path, sizeof path, "%s%s", TEXT_OPENCC_DIR, cfg);
		if (w < 0 || (size_t)w >= sizeof path)
			return CD_ERR_RANGE;
		cfg = path;
	}
	opencc_t cc = opencc_open(cfg);
	if (cc == (opencc_t)-1)
		return CD_ERR_NOTFOUND;
	struct text_norm *tn = xcalloc(1, sizeof *tn);
	tn->cc = cc;
	build_triggers(tn);
	*out = tn;
	return CD_OK;
}

void text_norm_free(struct text_norm *tn)
{
	if (!tn)
		return;
	opencc_close(tn->cc);
	xfree(tn);
}

static pthread_once_t shared_once = PTHREAD_ONCE_INIT;
static struct text_norm *shared_tn;
static enum cd_err shared_rc;

static void shared_open(void)
{
	shared_rc = text_norm_open(NULL, &shared_tn);
}

enum cd_err text_norm_shared(struct text_norm **out)
{
	pthread_once(&shared_once, shared_open);
	*out = shared_tn;
	return shared_rc;
}

enum cd_err text_normalize(const struct text_norm *tn, const char *in, size_t len, unsigned flags,
			   char *out, size_t cap, size_t *out_len)
{
	enum cd_err rc = CD_ERR_NOMEM;
	unsigned char *clean = NULL, *folded = NULL;
	char *simple = NULL;
	if (out_len)
		*out_len = 0;
	if (cap == 0)
		return CD_ERR_TOOBIG;
	out[0] = '\0';
	if (len > TEXT_MAX_INPUT)
		return CD_ERR_TOOBIG;
	if ((flags & TEXT_SIMPLIFY) && !tn)
		return CD_ERR_INVALID; /* programmer error, reported rather than asserted */
	if (!in || len == 0)
		return CD_OK;

	clean = try_malloc(3 * len + 1);
	if (!clean)
		goto done;
	const unsigned char *cur = clean;
	size_t n = stage_clean((const unsigned char *)in, len, clean);

	if ((flags & TEXT_FOLD) && has_non_ascii(cur, n)) {
		size_t fl;
		rc = stage_nfkc(cur, n, &folded, &fl);
		if (rc)
			goto done;
		cur = folded, n = fl;
	}
	if ((flags & TEXT_SIMPLIFY) && has_non_ascii(cur, n)) {
		rc = stage_simplify(tn, cur, n, &simple, &n);
		if (rc)
			goto done;
		if (simple)
			cur = (const unsigned char *)simple;
	}
	rc = stage_final(cur, n, flags, out, cap, out_len) ? CD_OK : CD_ERR_TOOBIG;
done:
	xfree(simple);
	xfree(folded);
	xfree(clean);
	return rc;
}

/* ---- hashing and tokens --------------------------------------------------------------- */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

/* Murmur3's 64-bit finalizer: every input bit affects every output bit. */
static inline uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

uint64_t text_hash64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = FNV_OFFSET;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return mix64(h ^ len);
}

/* Salts that keep unigram, bigram and trigram hashes in separate spaces. */
#define SALT_UNI 0x9e3779b97f4a7c15ULL
#define SALT_BI 0xbf58476d1ce4e5b9ULL
#define SALT_TRI 0x94d049bb133111ebULL

/* One unit of text: an ASCII word or one other letter/number character. */
struct unit {
	uint64_t h;       /* text_hash64 of its (lower-cased) bytes */
	size_t start;     /* byte offset in the input */
	size_t end;       /* one past its last byte */
};

static bool is_ascii_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Letters, numbers and marks make units; punctuation, symbols, spaces and controls separate. */
static bool is_unit_char(int32_t cp)
{
	if (cp >= 0x4E00 && cp <= 0x9FFF)
		return true; /* the common case first: CJK Unified Ideographs */
	utf8proc_category_t c = utf8proc_category(cp);
	return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_NO);
}

size_t text_tokens(const char *s, size_t len, unsigned kinds, text_token_fn fn, void *ctx)
{
	const unsigned char *u = (const unsigned char *)s;
	struct unit w[3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}}; /* last three units of the run, w[2] newest */
	size_t run = 0;   /* units in the current run (capped at 3) */
	size_t count = 0, i = 0;
	while (i < len) {
		struct unit cur = {0, 0, 0};
		bool unit = false;
		if (is_ascii_alnum(u[i])) {
			uint64_t h = FNV_OFFSET;
			cur.start = i;
			while (i < len && is_ascii_alnum(u[i])) {
				unsigned char c = u[i++];
				if (c >= 'A' && c <= 'Z')
					c = (unsigned char)(c + 32);
				h ^= c;
				h *= FNV_PRIME;
			}
			cur.end = i;
			cur.h = mix64(h ^ (cur.end - cur.start));
			unit = true;
		} else if (u[i] < 0x80) {
			i++;
		} else {
			size_t st = i;
			int32_t cp = utf8_next(u, len, &i);
			if (cp >= 0 && is_unit_char(cp)) {
				cur.start = st, cur.end = i;
				cur.h = text_hash64(u + st, i - st);
				unit = true;
			}
		}
		if (!unit) {
			run = 0;
			continue;
		}
		w[0] = w[1], w[1] = w[2], w[2] = cur;
		if (run < 3)
			run++;
		if (kinds & TEXT_TOK_UNI) {
			if (fn)
				fn(ctx, mix64(cur.h ^ SALT_UNI), s + cur.start, cur.end - cur.start, 1);
			count++;
		}
		if ((kinds & TEXT_TOK_BI) && run >= 2) {
			if (fn)
				fn(ctx, mix64(mix64(w[1].h ^ SALT_BI) ^ w[2].h), s + w[1].start,
				   w[2].end - w[1].start, 2);
			count++;
		}
		if ((kinds & TEXT_TOK_TRI) && run >= 3) {
			if (fn)
				fn(ctx, mix64(mix64(mix64(w[0].h ^ SALT_TRI) ^ w[1].h) ^ w[2].h),
				   s + w[0].start, w[2].end - w[0].start, 3);
			count++;
		}
	}
	return count;
}

struct tok_array {
	uint64_t *out; /* caller's array */
	size_t cap;    /* its size */
	size_t n;      /* tokens seen */
};

static void tok_array_put(void *ctx, uint64_t hash, const char *s, size_t n, int order)
{
	struct tok_array *a = ctx;
	(void)s, (void)n, (void)order;
	if (a->n < a->cap)
		a->out[a->n] = hash;
	a->n++;
}

size_t text_tokens_array(const char *s, size_t len, unsigned kinds, uint64_t *out, size_t cap)
{
	struct tok_array a = {out, cap, 0};
	text_tokens(s, len, kinds, tok_array_put, &a);
	return a.n;
}
