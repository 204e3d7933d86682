/* The classifier's model file: a versioned, checksummed, little-endian serialization; see
 * docs/internals/classify.md for the layout. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/classify.h"
#include "core/classify_int.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/csv.h"

/* ---- the file format ------------------------------------------------------------------- */

static uint32_t crc32_of(const unsigned char *d, size_t n)
{
	uint32_t table[256];
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		table[i] = c;
	}
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++)
		crc = table[(crc ^ d[i]) & 0xff] ^ (crc >> 8);
	return crc ^ 0xffffffffu;
}

static enum cd_err put_u32(struct buf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 24)};
	return buf_append(b, x, 4);
}

static enum cd_err put_f32(struct buf *b, float f)
{
	uint32_t v;
	memcpy(&v, &f, 4);
	return put_u32(b, v);
}

static enum cd_err put_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	enum cd_err rc = put_u32(b, (uint32_t)n);
	return rc ? rc : buf_append(b, s, n);
}

enum cd_err classify_model_encode(const struct classify_model *m, struct buf *out)
{
	size_t start = out->len, c = m->n_labels, rows = (size_t)1 << m->hash_bits;
	uint32_t nonzero = 0;
	for (size_t r = 0; r < rows; r++)
		for (size_t k = 0; k < c; k++)
			if (m->w[r * c + k] != 0) {
				nonzero++;
				break;
			}
	uint64_t tbits, wbits, bbits;
	memcpy(&tbits, &m->temperature, 8);
	memcpy(&wbits, &m->title_weight, 8);
	memcpy(&bbits, &m->name_boost, 8);
	enum cd_err rc = buf_append(out, CLASSIFY_FILE_MAGIC, CLASSIFY_FILE_MAGIC_LEN);
	if (!rc)
		rc = put_u32(out, CLASSIFY_MODEL_VERSION);
	if (!rc)
		rc = put_u32(out, m->hash_bits);
	if (!rc)
		rc = put_u32(out, m->ngram_max);
	if (!rc)
		rc = put_u32(out, (uint32_t)m->name_features);
	if (!rc)
		rc = put_u32(out, (uint32_t)c);
	if (!rc)
		rc = put_u32(out, (uint32_t)m->n_names);
	if (!rc)
		rc = put_u32(out, (uint32_t)tbits);
	if (!rc)
		rc = put_u32(out, (uint32_t)(tbits >> 32));
	if (!rc)
		rc = put_u32(out, (uint32_t)wbits);
	if (!rc)
		rc = put_u32(out, (uint32_t)(wbits >> 32));
	if (!rc)
		rc = put_u32(out, (uint32_t)bbits);
	if (!rc)
		rc = put_u32(out, (uint32_t)(bbits >> 32));
	for (size_t k = 0; k < c && !rc; k++) {
		rc = put_str(out, m->label_name[k]);
		if (!rc)
			rc = put_str(out, m->label_code[k]);
	}
	for (size_t i = 0; i < m->n_names && !rc; i++)
		rc = put_str(out, m->names[i]);
	/* idf: the value of unseen buckets (the largest), then the buckets that differ. */
	if (!rc)
		rc = put_u32(out, m->idf ? 1 : 0);
	if (m->idf && !rc) {
		float dflt = 0;
		uint32_t differ = 0;
		for (size_t r = 0; r < rows; r++)
			if (m->idf[r] > dflt)
				dflt = m->idf[r];
		for (size_t r = 0; r < rows; r++)
			differ += m->idf[r] != dflt;
		rc = put_f32(out, dflt);
		if (!rc)
			rc = put_u32(out, differ);
		for (size_t r = 0; r < rows && !rc; r++)
			if (m->idf[r] != dflt) {
				rc = put_u32(out, (uint32_t)r);
				if (!rc)
					rc = put_f32(out, m->idf[r]);
			}
	}
	for (size_t k = 0; k < c && !rc; k++)
		rc = put_f32(out, m->bias[k]);
	if (!rc)
		rc = put_u32(out, nonzero);
	for (size_t r = 0; r < rows && !rc; r++) {
		int any = 0;
		for (size_t k = 0; k < c; k++)
			any |= m->w[r * c + k] != 0;
		if (!any)
			continue;
		rc = put_u32(out, (uint32_t)r);
		for (size_t k = 0; k < c && !rc; k++)
			rc = put_f32(out, m->w[r * c + k]);
	}
	if (!rc)
		rc = put_u32(out, crc32_of((const unsigned char *)out->data + start, out->len - start));
	return rc;
}

/* A bounded reader over the decoded bytes. */
struct reader {
	const unsigned char *d;
	size_t len, pos;
};

static int get_u32(struct reader *r, uint32_t *v)
{
	if (r->len - r->pos < 4)
		return -1;
	const unsigned char *p = r->d + r->pos;
	*v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	r->pos += 4;
	return 0;
}

static int get_f32(struct reader *r, float *f)
{
	uint32_t v;
	if (get_u32(r, &v))
		return -1;
	memcpy(f, &v, 4);
	return isfinite(*f) ? 0 : -1;
}

/* Copies a string of fewer than cap bytes without NULs into out. */
static int get_str(struct reader *r, char *out, size_t cap)
{
	uint32_t n;
	if (get_u32(r, &n) || n >= cap || r->len - r->pos < n || memchr(r->d + r->pos, 0, n))
		return -1;
	memcpy(out, r->d + r->pos, n);
	out[n] = '\0';
	r->pos += n;
	return 0;
}

enum cd_err classify_model_decode(const void *data, size_t len, struct classify_model **out)
{
	const unsigned char *d = data;
	struct classify_model *m = NULL;
	char **names = NULL;
	uint32_t n_names = 0;
	*out = NULL;
	if (len < CLASSIFY_FILE_MAGIC_LEN)
		return CD_ERR_CORRUPT;
	if (memcmp(d, CLASSIFY_FILE_MAGIC, CLASSIFY_FILE_MAGIC_LEN) != 0)
		return CD_ERR_INVALID;
	if (len < CLASSIFY_FILE_MAGIC_LEN + 8)
		return CD_ERR_CORRUPT;
	struct reader r = {d, len - 4, CLASSIFY_FILE_MAGIC_LEN};
	uint32_t version, bits, ngram, namef, c, t_lo, t_hi, w_lo, w_hi, b_lo, b_hi, crc;
	if (get_u32(&r, &version))
		return CD_ERR_CORRUPT;
	if (version > CLASSIFY_MODEL_VERSION)
		return CD_ERR_RANGE;
	struct reader tail = {d, len, len - 4};
	if (get_u32(&tail, &crc) || crc != crc32_of(d, len - 4))
		return CD_ERR_CORRUPT;
	if (version < 1 || get_u32(&r, &bits) || get_u32(&r, &ngram) || get_u32(&r, &namef) ||
	    get_u32(&r, &c) || get_u32(&r, &n_names) || get_u32(&r, &t_lo) || get_u32(&r, &t_hi) ||
	    get_u32(&r, &w_lo) || get_u32(&r, &w_hi) || get_u32(&r, &b_lo) || get_u32(&r, &b_hi) ||
	    bits < 12 || bits > 24 || ngram < 1 || ngram > 3 || namef > 1 || c < 2 ||
	    c > CLASSIFY_MAX_LABELS || n_names > CLASSIFY_MAX_NAMES)
		return CD_ERR_CORRUPT;
	enum cd_err rc = classify__model_alloc(bits, ngram, c, &m);
	if (rc)
		return rc;
	rc = CD_ERR_CORRUPT;
	m->name_features = (int)namef;
	uint64_t tbits = (uint64_t)t_hi << 32 | t_lo;
	memcpy(&m->temperature, &tbits, 8);
	uint64_t wbits = (uint64_t)w_hi << 32 | w_lo, bbits = (uint64_t)b_hi << 32 | b_lo;
	memcpy(&m->title_weight, &wbits, 8);
	memcpy(&m->name_boost, &bbits, 8);
	if (!(m->name_boost > 0) || !(m->name_boost <= 10))
		goto out;
	if (!(m->temperature > 0) || !isfinite(m->temperature) || !(m->title_weight >= 0) ||
	    !(m->title_weight <= 10))
		goto out;
	for (size_t k = 0; k < c; k++)
		if (get_str(&r, m->label_name[k], CLASSIFY_LABEL_MAX) ||
		    get_str(&r, m->label_code[k], CATEGORY_CODE_MAX))
			goto out;
	names = xcalloc(n_names + 1, sizeof *names);
	for (size_t i = 0; i < n_names; i++) {
		char name[CATEGORY_NAME_MAX];
		if (get_str(&r, name, sizeof name))
			goto out;
		names[i] = xstrdup(name);
	}
	uint32_t has_idf;
	if (get_u32(&r, &has_idf) || has_idf > 1)
		goto out;
	if (has_idf) {
		size_t rows = (size_t)1 << bits;
		float dflt;
		uint32_t differ, prev_row = 0;
		if (get_f32(&r, &dflt) || !(dflt > 0) || get_u32(&r, &differ) || differ > rows)
			goto out;
		m->idf = try_malloc(rows * sizeof *m->idf);
		if (!m->idf) {
			rc = CD_ERR_NOMEM;
			goto out;
		}
		for (size_t k = 0; k < rows; k++)
			m->idf[k] = dflt;
		for (uint32_t i = 0; i < differ; i++) {
			uint32_t row;
			if (get_u32(&r, &row) || row >= rows || (i && row <= prev_row) ||
			    get_f32(&r, &m->idf[row]) || !(m->idf[row] > 0))
				goto out;
			prev_row = row;
		}
	}
	for (size_t k = 0; k < c; k++)
		if (get_f32(&r, &m->bias[k]))
			goto out;
	uint32_t nonzero, prev = 0;
	if (get_u32(&r, &nonzero) || nonzero > (1u << bits))
		goto out;
	for (uint32_t i = 0; i < nonzero; i++) {
		uint32_t row;
		if (get_u32(&r, &row) || row >= (1u << bits) || (i && row <= prev))
			goto out;
		prev = row;
		for (size_t k = 0; k < c; k++)
			if (get_f32(&r, &m->w[(size_t)row * c + k]))
				goto out;
	}
	if (r.pos != r.len)
		goto out;
	classify__model_take_names(m, names, n_names);
	*out = m;
	m = NULL;
	rc = CD_OK;
out:
	if (names)
		for (size_t i = 0; i < n_names; i++)
			xfree(names[i]);
	xfree(names);
	classify_model_free(m);
	return rc;
}

enum cd_err classify_model_save(const struct classify_model *m, const char *path)
{
	struct buf b;
	char tmp[4096];
	buf_init(&b, CLASSIFY_MODEL_FILE_MAX);
	enum cd_err rc = classify_model_encode(m, &b);
	if (rc) {
		buf_release(&b);
		return rc;
	}
	rc = CD_ERR_IO;
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		buf_release(&b);
		return CD_ERR_TOOBIG;
	}
	FILE *f = fopen(tmp, "wb");
	if (f && fwrite(b.data, 1, b.len, f) == b.len && fflush(f) == 0 && fsync(fileno(f)) == 0) {
		if (fclose(f) == 0 && rename(tmp, path) == 0)
			rc = CD_OK;
		f = NULL;
	}
	if (f)
		fclose(f);
	if (rc)
		unlink(tmp);
	buf_release(&b);
	return rc;
}

enum cd_err classify_model_load(const char *path, struct classify_model **out)
{
	char *data = NULL;
	size_t len = 0;
	*out = NULL;
	enum cd_err rc = file_read_all(path, CLASSIFY_MODEL_FILE_MAX, &data, &len);
	if (rc == CD_ERR_TOOBIG)
		return CD_ERR_CORRUPT;
	if (rc)
		return rc;
	rc = classify_model_decode(data, len, out);
	xfree(data);
	return rc;
}
