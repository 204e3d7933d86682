/* The classifier benchmark: accuracy and prediction throughput of core/classify on the
 * THUCNews titles (train on dev.txt, test on test.txt), and k-fold cross-validated accuracy
 * and macro-F1 on the labelled citizen messages. It also writes the same data in fastText's
 * format (one character per token) so bench/classify.sh can run the peer on it.
 *
 *   bench_classify thucnews DIR [--fasttext-out DIR2] [params]
 *       prints: citydesk acc 0.872 (520000 titles/s) train 1.2 s model 12.3 MB
 *   bench_classify cv FILE.csv TAXONOMY.csv [--folds 5] [--seed S] [--fasttext-out DIR2] [params]
 *       prints: cv: citydesk acc 0.900 macro-F1 0.890 (5 folds, 403 messages, majority 0.211)
 *   params: --epochs N --lr X --bits B --ngram N --names 0|1 (names: taxonomy evidence)
 *
 * Build (bench/classify.sh does it): gcc -O2 -Isrc bench/bench_classify.c build/libcitydesk.a
 *   $(pkg-config --libs opencc libutf8proc) -lm -pthread */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/category.h"
#include "core/classify.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/csv.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
	char *text = NULL;
	if (file_read_all(path, 1u << 28, &text, len) != CD_OK) {
		fprintf(stderr, "bench_classify: cannot read %s\n", path);
		exit(1);
	}
	return text;
}

/* Writes text as fastText tokens: every character a token (whitespace dropped). */
static void put_chars(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		if (i + k > n)
			break;
		if (!(c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
			fwrite(s + i, 1, k, f);
			fputc(' ', f);
		}
		i += k;
	}
}

/* A THUCNews file: lines "title<TAB>label id". Calls fn for each. */
struct line {
	const char *text;
	size_t len;
	long label;
};

static size_t read_lines(char *data, size_t len, struct line **out)
{
	size_t cap = 1024, n = 0;
	struct line *v = xmalloc(cap * sizeof *v);
	char *p = data, *end = data + len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *e = nl ? nl : end;
		char *tab = memchr(p, '\t', (size_t)(e - p));
		if (tab) {
			char *stop = NULL;
			long lab = strtol(tab + 1, &stop, 10);
			if (stop != tab + 1 && lab >= 0) {
				if (n == cap)
					v = xrealloc(v, (cap *= 2) * sizeof *v);
				v[n].text = p;
				v[n].len = (size_t)(tab - p);
				v[n].label = lab;
				n++;
			}
		}
		p = e + 1;
	}
	*out = v;
	return n;
}

static int take_param(int argc, char **argv, int *i, struct classify_params *p)
{
	const char *a = argv[*i];
	if (*i + 1 >= argc)
		return 0;
	const char *v = argv[*i + 1];
	if (strcmp(a, "--epochs") == 0)
		p->epochs = (unsigned)strtoul(v, NULL, 10);
	else if (strcmp(a, "--lr") == 0)
		p->lr = strtod(v, NULL);
	else if (strcmp(a, "--bits") == 0)
		p->hash_bits = (unsigned)strtoul(v, NULL, 10);
	else if (strcmp(a, "--ngram") == 0)
		p->ngram_max = (unsigned)strtoul(v, NULL, 10);
	else if (strcmp(a, "--names") == 0) {
		int on = strcmp(v, "0") != 0;
		p->name_features = on;
		p->name_weight = on ? 1.0 : 0.0;
	} else if (strcmp(a, "--name-boost") == 0)
		p->name_boost = strtod(v, NULL);
	else if (strcmp(a, "--balance") == 0)
		p->balance = strtod(v, NULL);
	else if (strcmp(a, "--name-weight") == 0)
		p->name_weight = strtod(v, NULL);
	else if (strcmp(a, "--title") == 0)
		p->title_weight = strtod(v, NULL);
	else if (strcmp(a, "--idf") == 0)
		p->idf = strcmp(v, "0") != 0;
	else
		return 0;
	(*i)++;
	return 1;
}

static int run_thucnews(int argc, char **argv)
{
	const char *dir = argv[2], *ft_out = NULL;
	int validate = 0;	   /* 1: test on every 5th line of dev.txt, train on the rest */
	unsigned select_folds = 0; /* >0: classify_select on the training data first */
	struct classify_params p;
	classify_params_default(&p);
	for (int i = 3; i < argc; i++) {
		if (take_param(argc, argv, &i, &p))
			continue;
		if (strcmp(argv[i], "--fasttext-out") == 0 && i + 1 < argc)
			ft_out = argv[++i];
		else if (strcmp(argv[i], "--validate") == 0)
			validate = 1;
		else if (strcmp(argv[i], "--select") == 0)
			select_folds = 3;
		else {
			fprintf(stderr, "bench_classify: unexpected %s\n", argv[i]);
			return 2;
		}
	}
	char path[4096];
	size_t len;
	snprintf(path, sizeof path, "%s/class.txt", dir);
	char *classes = slurp(path, &len);
	char *names[64];
	size_t n_names = 0;
	for (char *s = classes, *e; *s && n_names < 64; s = e + 1) {
		e = strchr(s, '\n');
		if (!e)
			e = s + strlen(s);
		int last = *e == '\0';
		*e = '\0';
		if (*s)
			names[n_names++] = s;
		if (last)
			break;
	}
	snprintf(path, sizeof path, "%s/dev.txt", dir);
	size_t dev_len, test_len;
	char *dev = slurp(path, &dev_len);
	snprintf(path, sizeof path, "%s/test.txt", dir);
	char *test = slurp(path, &test_len);
	struct line *tr, *te;
	size_t n_tr = read_lines(dev, dev_len, &tr), n_te = read_lines(test, test_len, &te);
	if (validate) {
		size_t a = 0, b = 0;
		for (size_t i = 0; i < n_tr; i++) {
			if (i % 5 == 4)
				te[b++] = tr[i];
			else
				tr[a++] = tr[i];
		}
		n_tr = a;
		n_te = b;
	}
	struct classify_set *set = classify_set_new();
	for (size_t i = 0; i < n_tr; i++) {
		if (tr[i].label >= (long)n_names)
			continue;
		if (classify_set_add(set, tr[i].text, tr[i].len, names[tr[i].label], NULL)) {
			fprintf(stderr, "bench_classify: cannot add example %zu\n", i);
			return 1;
		}
	}
	if (ft_out) {
		mkdir(ft_out, 0755);
		const char *which[2] = {"train.txt", "test.txt"};
		for (int w = 0; w < 2; w++) {
			snprintf(path, sizeof path, "%s/%s", ft_out, which[w]);
			FILE *f = fopen(path, "w");
			if (!f)
				return 1;
			struct line *v = w ? te : tr;
			size_t n = w ? n_te : n_tr;
			for (size_t i = 0; i < n; i++) {
				fprintf(f, "__label__%ld ", v[i].label);
				put_chars(f, v[i].text, v[i].len);
				fputc('\n', f);
			}
			fclose(f);
		}
	}
	double t0 = now();
	if (select_folds) {
		struct classify_cv_result r;
		if (classify_select(set, &p, select_folds, p.seed, &p, &r)) {
			fprintf(stderr, "bench_classify: selection failed\n");
			return 1;
		}
		printf(
		    "selected on %u-fold CV of the training set: idf %d, title %.0f (CV acc %.3f, %.1f s)\n",
		    select_folds, p.idf, p.title_weight, r.accuracy, now() - t0);
		t0 = now();
	}
	struct classify_model *m = NULL;
	if (classify_train(set, &p, &m)) {
		fprintf(stderr, "bench_classify: training failed\n");
		return 1;
	}
	double train_s = now() - t0;
	long *idx = xmalloc((n_names + 1) * sizeof *idx);
	for (size_t k = 0; k < n_names; k++)
		idx[k] = classify_model_label_index(m, names[k]);
	/* Accuracy over one pass; throughput over as many passes as fill a second. */
	size_t right = 0, done = 0;
	t0 = now();
	double el = 0;
	do {
		for (size_t i = 0; i < n_te; i++) {
			size_t lab;
			if (classify_model_rank(m, te[i].text, te[i].len, 1, &lab, NULL) != 1)
				return 1;
			if (done < n_te && te[i].label < (long)n_names && (long)lab == idx[te[i].label])
				right++;
			done++;
		}
		el = now() - t0;
	} while (el < 1.0);
	struct buf b;
	buf_init(&b, CLASSIFY_MODEL_FILE_MAX);
	if (classify_model_encode(m, &b))
		return 1;
	printf("citydesk acc %.3f (%.0f titles/s) train %.2f s model %.1f MB\n", (double)right / (double)n_te,
	       (double)done / el, train_s, (double)b.len / 1e6);
	buf_release(&b);
	xfree(idx);
	classify_model_free(m);
	classify_set_free(set);
	xfree(tr);
	xfree(te);
	xfree(dev);
	xfree(test);
	xfree(classes);
	return 0;
}

static int run_cv(int argc, char **argv)
{
	const char *csv = argv[2], *tax = argv[3], *ft_out = NULL;
	unsigned folds = 5;
	int nested = 0; /* 1: also nested CV (inner folds choose the configuration) */
	uint64_t seed = 20261127;
	struct classify_params p;
	classify_params_default(&p);
	for (int i = 4; i < argc; i++) {
		if (take_param(argc, argv, &i, &p))
			continue;
		if (strcmp(argv[i], "--folds") == 0 && i + 1 < argc)
			folds = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--fasttext-out") == 0 && i + 1 < argc)
			ft_out = argv[++i];
		else if (strcmp(argv[i], "--nested") == 0)
			nested = 1;
		else {
			fprintf(stderr, "bench_classify: unexpected %s\n", argv[i]);
			return 2;
		}
	}
	size_t len, tlen, rows = 0, line = 0;
	char *text = slurp(csv, &len), *ttext = slurp(tax, &tlen);
	struct classify_set *set = classify_set_new();
	if (classify_set_add_csv(set, text, len, &rows, &line)) {
		fprintf(stderr, "bench_classify: %s line %zu is bad\n", csv, line);
		return 1;
	}
	struct category_tree *t = category_tree_new();
	struct category_error err;
	size_t names = 0;
	if (category_tree_load_hotline(t, ttext, tlen, &err)) {
		fprintf(stderr, "bench_classify: %s line %zu: %s\n", tax, err.line, err.message);
		return 1;
	}
	category_tree_freeze(t);
	if (classify_set_add_taxonomy(set, t, "H", &names))
		return 1;
	size_t n = classify_set_count(set);
	if (ft_out) {
		unsigned *fold = xmalloc(n * sizeof *fold);
		classify_cv_folds(set, folds, seed, fold);
		mkdir(ft_out, 0755);
		for (unsigned f = 0; f < folds; f++) {
			char path[4096];
			FILE *out[2];
			snprintf(path, sizeof path, "%s/fold%u.train", ft_out, f);
			out[0] = fopen(path, "w");
			snprintf(path, sizeof path, "%s/fold%u.test", ft_out, f);
			out[1] = fopen(path, "w");
			if (!out[0] || !out[1])
				return 1;
			for (size_t i = 0; i < n; i++) {
				size_t tl;
				const char *tx = classify_set_text_of(set, i, &tl);
				FILE *o = out[fold[i] == f];
				fprintf(o, "__label__%s ", classify_set_label_of(set, i));
				put_chars(o, tx, tl);
				fputc('\n', o);
			}
			fclose(out[0]);
			fclose(out[1]);
		}
		xfree(fold);
	}
	struct classify_cv_result r;
	double t0 = now();
	if (classify_cv(set, &p, folds, seed, &r)) {
		fprintf(stderr, "bench_classify: cross-validation failed\n");
		return 1;
	}
	printf("cv: citydesk acc %.3f macro-F1 %.3f (%u folds, %zu messages, %zu names, majority %.3f, "
	       "NLL %.3f, ECE %.3f at T %.2f, %.1f s)\n",
	       r.accuracy, r.macro_f1, folds, r.n, names, r.majority, r.nll, r.ece, r.temperature,
	       now() - t0);
	if (nested) {
		t0 = now();
		if (classify_cv_nested(set, &p, folds, 4, seed, &r)) {
			fprintf(stderr, "bench_classify: nested cross-validation failed\n");
			return 1;
		}
		printf("nested: citydesk acc %.3f macro-F1 %.3f (%u outer folds, 4 inner folds choosing idf "
		       "and title features, NLL %.3f, ECE %.3f at T %.2f, %.1f s)\n",
		       r.accuracy, r.macro_f1, folds, r.nll, r.ece, r.temperature, now() - t0);
	}
	classify_set_free(set);
	category_tree_free(t);
	xfree(text);
	xfree(ttext);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "thucnews") == 0)
		return run_thucnews(argc, argv);
	if (argc >= 4 && strcmp(argv[1], "cv") == 0)
		return run_cv(argc, argv);
	fprintf(stderr, "usage: bench_classify thucnews DIR [--fasttext-out DIR] [params]\n"
			"       bench_classify cv FILE.csv TAXONOMY.csv [--folds N] [--seed S] "
			"[--fasttext-out DIR] [params]\n"
			"params: --epochs N --lr X --bits B --ngram N --names 0|1\n");
	return 2;
}
