/* Cross-validation, configuration selection and nested CV for the classifier; see classify.h
 * and docs/internals/classify.md. */
#include <math.h>
#include <string.h>

#include "core/classify.h"
#include "core/classify_int.h"
#include "util/alloc.h"

/* ---- cross-validation ------------------------------------------------------------------ */

/* Mean NLL of the right labels for out-of-fold raw scores at temperature t. */
static double nll_at(const double *scores, const size_t *truth, size_t n, size_t c, double t)
{
	double sum = 0;
	double *p = xmalloc(c * sizeof *p);
	for (size_t i = 0; i < n; i++) {
		memcpy(p, scores + i * c, c * sizeof *p);
		classify__softmax(p, c, t);
		sum -= log(p[truth[i]] > 1e-300 ? p[truth[i]] : 1e-300);
	}
	xfree(p);
	return n ? sum / (double)n : 0;
}

/* The temperature in [0.05, 20] minimizing the NLL (golden-section search on log t). */
static double fit_temperature(const double *scores, const size_t *truth, size_t n, size_t c)
{
	double a = log(0.05), b = log(20.0), g = (sqrt(5.0) - 1) / 2;
	double x1 = b - g * (b - a), x2 = a + g * (b - a);
	double f1 = nll_at(scores, truth, n, c, exp(x1)), f2 = nll_at(scores, truth, n, c, exp(x2));
	for (int it = 0; it < 60; it++) {
		if (f1 < f2) {
			b = x2, x2 = x1, f2 = f1;
			x1 = b - g * (b - a);
			f1 = nll_at(scores, truth, n, c, exp(x1));
		} else {
			a = x1, x1 = x2, f1 = f2;
			x2 = a + g * (b - a);
			f2 = nll_at(scores, truth, n, c, exp(x2));
		}
	}
	return exp((a + b) / 2);
}

void classify_cv_folds(const struct classify_set *s, unsigned folds, uint64_t seed, unsigned *fold)
{
	size_t n = s->n_real;
	size_t *real = xmalloc((n + 1) * sizeof *real), *perm = xmalloc((n + 1) * sizeof *perm);
	size_t r = 0;
	for (size_t i = 0; i < s->n_ex; i++)
		if (!s->ex[i].pseudo)
			real[r++] = i;
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	uint64_t rng = seed;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(classify__rng_next(&rng) % i), tmp = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = tmp;
	}
	/* Label by label, deal the shuffled examples round-robin: every fold gets its share of
	 * every label, and the deal carries on across labels so small labels do not pile up in
	 * fold 0. */
	size_t next = 0;
	for (size_t l = 0; l < s->n_labels; l++)
		for (size_t i = 0; i < n; i++)
			if (s->ex[real[perm[i]]].label == l)
				fold[perm[i]] = folds ? (unsigned)(next++ % folds) : 0;
	xfree(real);
	xfree(perm);
}

/* A new set holding the examples of s with use[i] set (texts copied), same labels and names. */
static enum cd_err set_subset(const struct classify_set *s, const unsigned char *use,
			      struct classify_set **out)
{
	struct classify_set *t = classify_set_new();
	memcpy(t->names_l, s->names_l, sizeof t->names_l);
	memcpy(t->codes_l, s->codes_l, sizeof t->codes_l);
	t->n_labels = s->n_labels;
	enum cd_err rc = CD_OK;
	for (size_t i = 0; i < s->n_ex && !rc; i++)
		if (use[i])
			rc = classify__set_push(t, s->ex[i].text, s->ex[i].len, s->ex[i].label,
						s->ex[i].weight, s->ex[i].pseudo);
	if (rc) {
		classify_set_free(t);
		return rc;
	}
	t->tax_names = xcalloc(s->n_tax + 1, sizeof *t->tax_names);
	t->cap_tax = s->n_tax + 1;
	for (size_t i = 0; i < s->n_tax; i++)
		t->tax_names[t->n_tax++] = xstrdup(s->tax_names[i]);
	*out = t;
	return CD_OK;
}

/* The configurations classify_select compares: idf off/on × title features off/on × the
 * complement naive Bayes at base's weight / off (with it first, so a tie keeps it). */
static void grid_params(const struct classify_params *base, unsigned g, struct classify_params *p)
{
	*p = *base;
	p->idf = (int)(g & 1);
	p->title_weight = g & 2 ? 1.0 : 0.0;
	if (g & 4)
		p->nb_weight = 0;
}

enum cd_err classify_select(const struct classify_set *s, const struct classify_params *base, unsigned folds,
			    uint64_t seed, struct classify_params *best, struct classify_cv_result *best_cv)
{
	struct classify_cv_result bcv;
	struct classify_params b = *base; /* best may be base */
	const unsigned grid = base->nb_weight > 0 ? 8 : 4;
	memset(&bcv, 0, sizeof bcv);
	for (unsigned g = 0; g < grid; g++) {
		struct classify_params p;
		struct classify_cv_result r;
		grid_params(&b, g, &p);
		enum cd_err rc = classify_cv(s, &p, folds, seed, &r);
		if (rc)
			return rc;
		if (g == 0 || r.accuracy > bcv.accuracy ||
		    (r.accuracy == bcv.accuracy && r.macro_f1 > bcv.macro_f1)) {
			bcv = r;
			*best = p;
		}
	}
	if (best_cv)
		*best_cv = bcv;
	return CD_OK;
}

/* Trains the model for one outer fold: with p as given (inner == 0), or with the grid
 * configuration that inner-fold cross-validation on the training part prefers. */
static enum cd_err train_fold(const struct classify_set *s, const struct classify_params *p,
			      const unsigned char *use, unsigned inner, uint64_t seed,
			      struct classify_model **m)
{
	if (!inner)
		return classify__train_subset(s, p, use, m);
	struct classify_set *sub = NULL;
	struct classify_params chosen;
	enum cd_err rc = set_subset(s, use, &sub);
	if (!rc)
		rc = classify_select(sub, p, inner, seed, &chosen, NULL);
	if (!rc)
		rc = classify__train_subset(sub, &chosen, NULL, m);
	classify_set_free(sub);
	return rc;
}

static enum cd_err cv_run(const struct classify_set *s, const struct classify_params *p, unsigned folds,
			  unsigned inner, uint64_t seed, struct classify_cv_result *out, size_t *pred,
			  size_t *truth)
{
	enum cd_err rc = CD_OK;
	size_t n = s->n_real, c = s->n_labels;
	memset(out, 0, sizeof *out);
	if (folds < 2 || folds > n || c < 2)
		return CD_ERR_INVALID;
	size_t *real = xmalloc(n * sizeof *real);
	unsigned *fold = xmalloc(n * sizeof *fold);
	size_t *tr = xmalloc(n * sizeof *tr), *pr = xmalloc(n * sizeof *pr);
	double *scores = xcalloc(n * c, sizeof *scores);
	unsigned char *use = xmalloc(s->n_ex + 1);
	size_t r = 0;
	for (size_t i = 0; i < s->n_ex; i++)
		if (!s->ex[i].pseudo)
			real[r++] = i;
	classify_cv_folds(s, folds, seed, fold);
	for (unsigned f = 0; f < folds && !rc; f++) {
		for (size_t i = 0; i < s->n_ex; i++)
			use[i] = 1;
		for (size_t i = 0; i < n; i++)
			use[real[i]] = fold[i] != f;
		struct classify_model *m = NULL;
		rc = train_fold(s, p, use, inner, seed + f + 1, &m);
		for (size_t i = 0; i < n && !rc; i++) {
			if (fold[i] != f)
				continue;
			const struct example *e = &s->ex[real[i]];
			struct fvec v;
			rc = classify__model_features(m, e->text, e->len, &v);
			if (rc)
				break;
			classify__model_scores(m, &v, scores + i * c);
			classify__fvec_release(&v);
		}
		classify_model_free(m);
	}
	if (rc)
		goto out;
	size_t *count = xcalloc(c, sizeof *count), *tp = xcalloc(c, sizeof *tp), *np = xcalloc(c, sizeof *np);
	size_t right = 0;
	double nll = 0;
	double *pb = xmalloc(c * sizeof *pb);
	for (size_t i = 0; i < n; i++) {
		tr[i] = s->ex[real[i]].label;
		size_t best = 0;
		for (size_t k = 1; k < c; k++)
			if (scores[i * c + k] > scores[i * c + best])
				best = k;
		pr[i] = best;
		count[tr[i]]++;
		np[best]++;
		if (best == tr[i]) {
			right++;
			tp[best]++;
		}
	}
	out->temperature = fit_temperature(scores, tr, n, c);
	double bins_conf[10] = {0}, bins_acc[10] = {0};
	size_t bins_n[10] = {0};
	for (size_t i = 0; i < n; i++) {
		memcpy(pb, scores + i * c, c * sizeof *pb);
		classify__softmax(pb, c, out->temperature);
		nll -= log(pb[tr[i]] > 1e-300 ? pb[tr[i]] : 1e-300);
		int bin = (int)(pb[pr[i]] * 10);
		if (bin > 9)
			bin = 9;
		bins_conf[bin] += pb[pr[i]];
		bins_acc[bin] += pr[i] == tr[i];
		bins_n[bin]++;
	}
	double f1sum = 0, ece = 0;
	size_t labels_seen = 0, most = 0;
	for (size_t k = 0; k < c; k++) {
		if (count[k] > most)
			most = count[k];
		if (!count[k])
			continue;
		labels_seen++;
		double prec = np[k] ? (double)tp[k] / (double)np[k] : 0,
		       rec = (double)tp[k] / (double)count[k];
		f1sum += prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
	}
	for (int b = 0; b < 10; b++)
		if (bins_n[b])
			ece += fabs(bins_conf[b] - bins_acc[b]) / (double)n;
	out->n = n;
	out->folds = folds;
	out->accuracy = (double)right / (double)n;
	out->macro_f1 = labels_seen ? f1sum / (double)labels_seen : 0;
	out->majority = (double)most / (double)n;
	out->nll = nll / (double)n;
	out->ece = ece;
	if (pred)
		memcpy(pred, pr, n * sizeof *pr);
	if (truth)
		memcpy(truth, tr, n * sizeof *tr);
	xfree(count);
	xfree(tp);
	xfree(np);
	xfree(pb);
out:
	xfree(real);
	xfree(fold);
	xfree(tr);
	xfree(pr);
	xfree(scores);
	xfree(use);
	return rc;
}

enum cd_err classify_cv_predictions(const struct classify_set *s, const struct classify_params *p,
				    unsigned folds, uint64_t seed, struct classify_cv_result *out,
				    size_t *pred, size_t *truth)
{
	return cv_run(s, p, folds, 0, seed, out, pred, truth);
}

enum cd_err classify_cv(const struct classify_set *s, const struct classify_params *p, unsigned folds,
			uint64_t seed, struct classify_cv_result *out)
{
	return cv_run(s, p, folds, 0, seed, out, NULL, NULL);
}

enum cd_err classify_cv_nested(const struct classify_set *s, const struct classify_params *base,
			       unsigned folds, unsigned inner_folds, uint64_t seed,
			       struct classify_cv_result *out)
{
	if (inner_folds < 2)
		return CD_ERR_INVALID;
	return cv_run(s, base, folds, inner_folds, seed, out, NULL, NULL);
}
