/* Finds and masks personal data in complaint text with hand-written scanners (no regex
 * engine): one left-to-right pass, digits grouped across single spaces and dashes, candidates
 * checked against the numbering plans and the ID card check digit. */
#include "core/pii.h"

#include <stdbool.h>
#include <string.h>

/* Digit groups one number may span ("+86 138 1234 5678" has four). */
#define MAX_GROUPS 6
/* The most digits any kind has (an 18-digit ID; 0086 + 11 is 15). */
#define MAX_DIGITS 18

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_alnum(unsigned char c) { return is_digit(c) || is_alpha(c); }

/* ---- numbers -------------------------------------------------------------------------- */

/* One candidate number: its digits and where it lies. */
struct num {
	char d[MAX_DIGITS + 2]; /* digits, then 'X' for an ID card's check character */
	size_t n;               /* count of d */
	size_t start, end;      /* bytes [start, end) */
	size_t groups;          /* digit groups it spans */
	size_t first_group;     /* digits in its first group */
};

static bool valid_date(const char *ymd, bool two_digit_year)
{
	int month = (ymd[two_digit_year ? 2 : 4] - '0') * 10 + (ymd[two_digit_year ? 3 : 5] - '0');
	int day = (ymd[two_digit_year ? 4 : 6] - '0') * 10 + (ymd[two_digit_year ? 5 : 7] - '0');
	if (!two_digit_year) {
		int century = (ymd[0] - '0') * 10 + (ymd[1] - '0');
		if (century != 19 && century != 20)
			return false;
	}
	return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/* ISO 7064 MOD 11-2 as GB 11643 uses it: weights 2^(17-i) mod 11, check = (12 - sum) mod 11,
 * written "10X98765432"[sum mod 11]. */
static bool id18_check(const char *d)
{
	static const int weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	int sum = 0;
	for (int i = 0; i < 17; i++)
		sum += (d[i] - '0') * weight[i];
	return "10X98765432"[sum % 11] == d[17];
}

static bool is_id_card(const struct num *m)
{
	if (m->d[0] < '1' || m->d[0] > '8')
		return false; /* region codes run from 11 to 82 */
	if (m->n == 18)
		return valid_date(m->d + 6, false) && id18_check(m->d);
	if (m->n == 15 && m->d[14] != 'X')
		return valid_date(m->d + 6, true);
	return false;
}

/* Digits of the national mobile number past a country prefix (0 when there is none), or
 * -1 when m is no mobile number. */
static int mobile_prefix(const struct num *m)
{
	size_t p;
	if (m->n == 11)
		p = 0;
	else if (m->n == 13 && m->d[0] == '8' && m->d[1] == '6')
		p = 2;
	else if (m->n == 15 && memcmp(m->d, "0086", 4) == 0)
		p = 4;
	else
		return -1;
	if (m->d[p] != '1' || m->d[p + 1] < '3' || m->d[p + 1] > '9' || m->d[m->n - 1] == 'X')
		return -1;
	return (int)p;
}

/* Length of the area code (with its 0) of a landline number, or 0 when m is none: 010 and
 * 02X are three digits, the others four; the local number has 7 or 8 digits, not starting
 * with 0 or 1. When the number was written in groups, the first group is the area code. */
static size_t landline_area(const struct num *m)
{
	if (m->d[0] != '0' || m->n < 10 || m->n > 12 || m->d[m->n - 1] == 'X')
		return 0;
	size_t area;
	if (m->d[1] == '1')
		area = m->d[2] == '0' ? 3 : 0;
	else if (m->d[1] == '2')
		area = 3;
	else if (m->d[1] >= '3')
		area = 4;
	else
		area = 0;
	if (!area)
		return 0;
	size_t local = m->n - area;
	if (local < 7 || local > 8 || m->d[area] < '2')
		return 0;
	if (m->groups > 1 && m->first_group != area)
		return 0;
	return area;
}

static enum pii_kind classify_num(const struct num *m, unsigned kinds)
{
	if ((kinds & PII_ID_CARD) && is_id_card(m))
		return PII_ID_CARD;
	if ((kinds & PII_MOBILE) && mobile_prefix(m) >= 0)
		return PII_MOBILE;
	if ((kinds & PII_LANDLINE) && landline_area(m))
		return PII_LANDLINE;
	return 0;
}

/* Tries the number whose first digit is s[i] (not preceded by a letter or digit). Groups
 * joined by one space, dash or ')' are tried longest first. On a match fills *sp. */
static bool match_number(const unsigned char *s, size_t len, size_t i, unsigned kinds,
			 struct pii_span *sp)
{
	size_t gs[MAX_GROUPS], ge[MAX_GROUPS], ng = 0, total = 0;
	size_t p = i;
	while (ng < MAX_GROUPS) {
		size_t st = p;
		while (p < len && is_digit(s[p]))
			p++;
		total += p - st;
		if (total > MAX_DIGITS)
			break;
		gs[ng] = st, ge[ng] = p, ng++;
		if (p + 1 < len && (s[p] == ' ' || s[p] == '-' || s[p] == ')') && is_digit(s[p + 1]))
			p++;
		else
			break;
	}
	for (size_t j = ng; j-- > 0;) {
		struct num m = {.n = 0, .start = gs[0], .end = ge[j], .groups = j + 1,
				.first_group = ge[0] - gs[0]};
		for (size_t g = 0; g <= j; g++)
			for (size_t k = gs[g]; k < ge[g]; k++)
				m.d[m.n++] = (char)s[k];
		/* an ID card's check character X belongs to the number */
		if (m.n == 17 && m.end < len && (s[m.end] | 0x20) == 'x') {
			m.d[m.n++] = 'X';
			m.end++;
		}
		if (m.end < len && is_alnum(s[m.end]))
			continue; /* runs on into a word: a reference like LH2026..., not a number */
		enum pii_kind kind = classify_num(&m, kinds);
		if (!kind)
			continue;
		if (kind == PII_MOBILE && m.n == 13 && m.start > 0 && s[m.start - 1] == '+')
			m.start--;
		sp->start = m.start;
		sp->len = m.end - m.start;
		sp->kind = kind;
		return true;
	}
	return false;
}

/* ---- plates --------------------------------------------------------------------------- */

/* Province abbreviations that open a plate, Simplified and the Traditional forms seen in
 * text that was not normalized. All are three bytes in UTF-8. */
static const char *const provinces[] = {
	"京", "津", "沪", "渝", "冀", "豫", "云", "辽", "黑", "湘", "皖", "鲁", "新", "苏", "浙", "赣",
	"鄂", "桂", "甘", "晋", "蒙", "陕", "吉", "闽", "贵", "粤", "青", "藏", "川", "宁", "琼", "使",
	"滬", "雲", "遼", "魯", "蘇", "贛", "陝", "閩", "貴", "粵", "寧", "瓊",
};

/* Characters that close special plates: Hong Kong and Macao cross-border, driving school,
 * police, trailer, consulate. */
static const char *const plate_suffixes[] = {"港", "澳", "学", "警", "挂", "领", "學", "掛", "領"};

static bool is_province(const unsigned char *s, size_t len, size_t i)
{
	if (i + 3 > len)
		return false;
	for (size_t k = 0; k < sizeof provinces / sizeof provinces[0]; k++)
		if (memcmp(s + i, provinces[k], 3) == 0)
			return true;
	return false;
}

static bool is_plate_suffix(const unsigned char *s, size_t len, size_t i)
{
	if (i + 3 > len)
		return false;
	for (size_t k = 0; k < sizeof plate_suffixes / sizeof plate_suffixes[0]; k++)
		if (memcmp(s + i, plate_suffixes[k], 3) == 0)
			return true;
	return false;
}

/* Tries a plate at s[i] (a province character): letter, an optional separator (space, '-',
 * '.' or the middle dot), then 5 characters with at least 3 digits, or 6 for new-energy
 * vehicles (D/F before or after 5 digits), or 4 followed by a suffix character. */
static bool match_plate(const unsigned char *s, size_t len, size_t i, struct pii_span *sp)
{
	size_t p = i + 3;
	if (p >= len || !is_alpha(s[p]))
		return false;
	p++;
	if (p < len && (s[p] == ' ' || s[p] == '-' || s[p] == '.'))
		p++;
	else if (p + 1 < len && s[p] == 0xC2 && s[p + 1] == 0xB7) /* U+00B7 middle dot */
		p += 2;
	size_t t = p, digits = 0;
	while (p < len && is_alnum(s[p]) && p - t < 7) {
		digits += is_digit(s[p]);
		p++;
	}
	size_t n = p - t;
	if (p < len && is_alnum(s[p]))
		return false;
	bool ok = false;
	if (n == 5) {
		ok = digits >= 3;
	} else if (n == 6) {
		unsigned char a = s[t] | 0x20, z = s[t + 5] | 0x20;
		ok = digits == 5 && (a == 'd' || a == 'f' || z == 'd' || z == 'f');
	} else if (n == 4 && digits >= 2 && is_plate_suffix(s, len, p)) {
		p += 3;
		ok = true;
	}
	if (!ok)
		return false;
	sp->start = i;
	sp->len = p - i;
	sp->kind = PII_PLATE;
	return true;
}

/* ---- e-mail --------------------------------------------------------------------------- */

static bool is_local_char(unsigned char c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* Tries an address whose local part starts at s[i]: local@label(.label)+ with a last label of
 * two or more letters. */
static bool match_email(const unsigned char *s, size_t len, size_t i, struct pii_span *sp)
{
	size_t p = i;
	while (p < len && is_local_char(s[p]))
		p++;
	if (p == i || p >= len || s[p] != '@' || s[i] == '.')
		return false;
	p++; /* past the @ */
	size_t labels = 0, last_alpha = 0;
	while (p < len) {
		size_t ls = p;
		bool alpha = true;
		while (p < len && (is_alnum(s[p]) || s[p] == '-')) {
			alpha = alpha && is_alpha(s[p]);
			p++;
		}
		if (p == ls)
			break;
		labels++, last_alpha = alpha ? p - ls : 0;
		if (p + 1 < len && s[p] == '.' && is_alnum(s[p + 1]))
			p++;
		else
			break;
	}
	if (labels < 2 || last_alpha < 2)
		return false;
	sp->start = i;
	sp->len = p - i;
	sp->kind = PII_EMAIL;
	return true;
}

/* ---- the scan ------------------------------------------------------------------------- */

/* Finds spans from byte `from` on (looking back one byte for the boundary), at most cap of
 * them; returns the count found, possibly more than cap. *resume gets the offset just past
 * the cap-th span so a caller can go on from there. */
static size_t scan(const unsigned char *s, size_t len, size_t from, unsigned kinds,
		   struct pii_span *spans, size_t cap, size_t *resume)
{
	size_t count = 0, i = from;
	*resume = len;
	while (i < len) {
		unsigned char c = s[i];
		struct pii_span sp;
		bool found = false;
		if ((kinds & PII_EMAIL) && is_local_char(c) && (i == 0 || !is_local_char(s[i - 1])))
			found = match_email(s, len, i, &sp);
		if (!found && is_digit(c) && (i == 0 || !is_alnum(s[i - 1]))) {
			found = (kinds & (PII_MOBILE | PII_LANDLINE | PII_ID_CARD)) &&
				match_number(s, len, i, kinds, &sp);
			if (!found) {
				while (i < len && is_digit(s[i]))
					i++;
				continue;
			}
		}
		if (!found && c >= 0x80 && (kinds & PII_PLATE) && is_province(s, len, i))
			found = match_plate(s, len, i, &sp);
		if (found) {
			if (count < cap) {
				spans[count] = sp;
				if (count + 1 == cap)
					*resume = sp.start + sp.len;
			}
			count++;
			i = sp.start + sp.len;
			continue;
		}
		i++;
		while (i < len && (s[i] & 0xC0) == 0x80)
			i++; /* to the next character */
	}
	return count;
}

size_t pii_find(const char *s, size_t len, unsigned kinds, struct pii_span *spans, size_t cap)
{
	size_t resume;
	return scan((const unsigned char *)s, len, 0, kinds, spans, cap, &resume);
}

/* Masks the alphanumeric characters of span sp whose index (counting only letters and digits
 * from the span's start) lies in [from, to). */
static void mask_range(char *s, const struct pii_span *sp, size_t from, size_t to)
{
	size_t k = 0;
	for (size_t i = sp->start; i < sp->start + sp->len; i++) {
		if (!is_alnum((unsigned char)s[i]))
			continue;
		if (k >= from && k < to)
			s[i] = '*';
		k++;
	}
}

static void mask_span(char *s, const struct pii_span *sp)
{
	size_t n = 0; /* letters and digits in the span */
	for (size_t i = sp->start; i < sp->start + sp->len; i++)
		n += is_alnum((unsigned char)s[i]);
	switch (sp->kind) {
	case PII_MOBILE: /* keep the prefix, the first 3 and the last 4 of the national number */
		mask_range(s, sp, n - 11 + 3, n - 4);
		break;
	case PII_LANDLINE: {
		const char *p = s + sp->start;
		while (!is_digit((unsigned char)*p))
			p++;
		size_t area = (p[1] == '1' || p[1] == '2') ? 3 : 4;
		mask_range(s, sp, area, n - 4);
		break;
	}
	case PII_ID_CARD:
		mask_range(s, sp, 4, n - 4);
		break;
	case PII_PLATE: /* the tail after the letter, all but its last 2 */
		mask_range(s, sp, 1, n - 2);
		break;
	case PII_EMAIL: {
		size_t at = 0;
		while (s[sp->start + at] != '@')
			at++;
		for (size_t i = 1; i < at; i++)
			s[sp->start + i] = '*';
		break;
	}
	default:
		break;
	}
}

bool pii_may_contain(const char *s, size_t len)
{
	/* mobile, landline and ID numbers are digits; a plate has at least two; an e-mail an '@' */
	for (size_t i = 0; i < len; i++)
		if (is_digit((unsigned char)s[i]) || s[i] == '@')
			return true;
	return false;
}

size_t pii_mask_inplace(char *s, size_t len, unsigned kinds)
{
	if (!pii_may_contain(s, len))
		return 0;
	struct pii_span spans[32];
	size_t total = 0, from = 0;
	for (;;) {
		size_t resume;
		size_t n = scan((const unsigned char *)s, len, from, kinds, spans, 32, &resume);
		size_t have = n < 32 ? n : 32;
		for (size_t k = 0; k < have; k++)
			mask_span(s, &spans[k]);
		total += have;
		if (n <= 32)
			return total;
		from = resume;
	}
}

enum cd_err pii_mask(const char *s, size_t len, unsigned kinds, struct buf *out)
{
	size_t at = out->len;
	enum cd_err rc = buf_append(out, s, len);
	if (rc)
		return rc;
	pii_mask_inplace(out->data + at, len, kinds);
	return CD_OK;
}

const char *pii_kind_name(enum pii_kind kind)
{
	switch (kind) {
	case PII_MOBILE: return "mobile";
	case PII_LANDLINE: return "landline";
	case PII_ID_CARD: return "id_card";
	case PII_PLATE: return "plate";
	case PII_EMAIL: return "email";
	default: return "unknown";
	}
}
