/* `citydesk train`: trains the category model from labelled messages (a CSV with title, detail
 * and label_l1 columns), with the hotline taxonomy's names as extra evidence, reports its
 * cross-validated accuracy, and saves it in the data directory for `citydesk classify` and the
 * intake pipeline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/categories.h"
#include "cli/cli.h"
#include "store/store.h"
#include "core/classify.h"
#include "util/alloc.h"
#include "util/csv.h"


#define TRAIN_FILE_MAX (256u << 20) /* bytes of a training CSV */

static const char usage[] =
    "usage: citydesk train --taxonomy hotline FILE.csv [--cv K] [--seed N] [--no-names] [--data DIR]\n"
    "FILE.csv has a header with title, detail and label_l1 columns (or text and label). Labels\n"
    "that name a first-level class of the hotline taxonomy get its code, and the names below\n"
    "that class join the training as evidence. --cv K (default 5, 0 to skip) first chooses\n"
    "idf weighting and title features by K-fold cross-validation, reports that accuracy and\n"
    "macro-F1, and fits the confidence temperature on the out-of-fold scores.\n"
    "The model goes to DATA/" CLASSIFY_MODEL_FILE ".\n";

/* Adds the store's closed cases whose final category a person chose (given at intake, or set
 * by a dispatcher at registration), labelled with their first-level hotline class: the
 * dispatchers' corrections teach the next model. Cases the model itself labelled are left out,
 * so it never learns from its own guesses. No store yet is no error. */
static enum cd_err add_closed_cases(const struct config *cfg, const struct category_tree *tree,
				    struct classify_set *set, size_t *added)
{
	static const char *const finished[] = {"closed", "rated"};
	char path[4096];
	struct store *st = NULL;
	*added = 0;
	if (config_db_path(cfg, path, sizeof path) || access(path, R_OK) != 0)
		return CD_OK;
	enum cd_err rc = store_open(path, &st);
	if (rc)
		return rc;
	for (size_t k = 0; k < sizeof finished / sizeof finished[0] && !rc; k++) {
		struct store_case_filter f;
		memset(&f, 0, sizeof f);
		f.status = finished[k];
		f.category_prefix = "H";
		for (int64_t offset = 0; !rc; offset += STORE_CASES_PAGE_MAX) {
			struct store_case_page pg;
			memset(&pg, 0, sizeof pg);
			rc = store_cases_list(st, &f, offset, STORE_CASES_PAGE_MAX, &pg);
			if (rc == CD_ERR_TOOBIG) { /* the store's time budget: take what we have */
				rc = CD_OK;
				break;
			}
			for (size_t i = 0; !rc && i < pg.n; i++) {
				const struct store_case *c = &pg.cases[i];
				const struct category *l1 = category_ancestor_at(category_get(tree, c->category_code), 1);
				if (!l1 || (strcmp(c->category_source, "given") && strcmp(c->category_source, "dispatcher")))
					continue;
				char text[STORE_CASE_TITLE_MAX + STORE_CASE_DESC_MAX];
				int n = snprintf(text, sizeof text, "%s\n%s", c->title, c->description);
				rc = classify_set_add(set, text, n > 0 ? (size_t)n : 0, l1->name, l1->code);
				if (!rc)
					(*added)++;
			}
			size_t got = pg.n;
			store_case_page_release(&pg);
			if (got < STORE_CASES_PAGE_MAX)
				break;
		}
	}
	store_close(st);
	return rc;
}

int cli_train(int argc, char **argv)
{
	struct config cfg;
	config_init(&cfg);
	if (argc < 2 || cli_wants_help(argc, argv)) {
		printf("%s\n", usage);
		config_print_help();
		return argc < 2 ? 2 : 0;
	}
	const char *file = NULL, *taxonomy = NULL;
	long folds = 5;
	uint64_t seed = 20261127;
	int names = 1;
	for (int i = 1; i < argc; i++) {
		int taken = config_take_flag(&cfg, argc, argv, &i);
		if (taken < 0)
			return 2;
		if (taken)
			continue;
		char *end = NULL;
		if (strcmp(argv[i], "--taxonomy") == 0 && i + 1 < argc) {
			taxonomy = argv[++i];
		} else if (strcmp(argv[i], "--cv") == 0 && i + 1 < argc) {
			folds = strtol(argv[++i], &end, 10);
			if (!*argv[i] || *end || folds < 0 || folds == 1 || folds > 100) {
				fprintf(stderr, "citydesk train: --cv takes 0 or 2..100\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			seed = strtoull(argv[++i], &end, 10);
			if (!*argv[i] || *end) {
				fprintf(stderr, "citydesk train: --seed takes a number\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--no-names") == 0) {
			names = 0;
		} else if (argv[i][0] != '-' && !file) {
			file = argv[i];
		} else {
			fprintf(stderr, "citydesk train: unexpected argument %s\n%s", argv[i], usage);
			return 2;
		}
	}
	if (!file || !taxonomy || (strcmp(taxonomy, "hotline") && strcmp(taxonomy, "none"))) {
		fprintf(stderr, "citydesk train: give --taxonomy hotline (or none) and FILE.csv\n%s", usage);
		return 2;
	}
	int status = 1;
	char *text = NULL;
	size_t len = 0, rows = 0, line = 0, n_names = 0;
	struct classify_set *set = classify_set_new();
	struct category_tree *tree = NULL;
	struct classify_model *m = NULL;
	struct classify_params p;
	classify_params_default(&p);
	p.seed = seed;
	if (!names) {
		p.name_weight = 0;
		p.name_features = 0;
	}
	enum cd_err rc = file_read_all(file, TRAIN_FILE_MAX, &text, &len);
	if (rc) {
		fprintf(stderr, "citydesk train: cannot read %s: %s\n", file, cd_err_name(rc));
		goto out;
	}
	rc = classify_set_add_csv(set, text, len, &rows, &line);
	if (rc) {
		fprintf(stderr, "citydesk train: %s line %zu: %s (needs title, detail, label_l1)\n", file,
			line, cd_err_name(rc));
		goto out;
	}
	if (strcmp(taxonomy, "hotline") == 0) {
		char reason[512] = "";
		if (categories_load(&cfg, &tree, reason, sizeof reason)) {
			fprintf(stderr, "citydesk train: categories: %s\n", reason);
			goto out;
		}
		rc = classify_set_add_taxonomy(set, tree, "H", names ? &n_names : NULL);
		if (rc == CD_ERR_NOTFOUND) {
			fprintf(stderr, "citydesk train: the category tree has no hotline root \"H\"\n");
			goto out;
		} else if (rc) {
			fprintf(stderr, "citydesk train: taxonomy: %s\n", cd_err_name(rc));
			goto out;
		}
	}
	if (tree) {
		size_t closed = 0;
		rc = add_closed_cases(&cfg, tree, set, &closed);
		if (rc) {
			fprintf(stderr, "citydesk train: reading closed cases from the store: %s\n", cd_err_name(rc));
			goto out;
		}
		rows += closed;
		printf("closed cases with a category chosen by a person: %zu\n", closed);
	}
	if (classify_set_label_count(set) < 2) {
		fprintf(stderr, "citydesk train: %s has fewer than two labels\n", file);
		goto out;
	}
	printf("training set: %zu messages, %zu labels, %zu taxonomy names\n", rows,
	       classify_set_label_count(set), n_names);
	double temperature = 1.0;
	if (folds >= 2) {
		/* Choose idf weighting and title features by CV on this data; the chosen one's
		 * out-of-fold scores also fit the confidence temperature. */
		struct classify_cv_result r;
		rc = classify_select(set, &p, (unsigned)folds, seed, &p, &r);
		if (rc) {
			fprintf(stderr, "citydesk train: cross-validation: %s\n", cd_err_name(rc));
			goto out;
		}
		printf("%ld-fold cross-validation: accuracy %.3f, macro-F1 %.3f (majority baseline %.3f) "
		       "with idf %s, title features %s (best of 4; nested CV in bench/classify.sh); "
		       "confidence temperature %.2f (ECE %.3f)\n",
		       folds, r.accuracy, r.macro_f1, r.majority, p.idf ? "on" : "off",
		       p.title_weight > 0 ? "on" : "off", r.temperature, r.ece);
		temperature = r.temperature;
	}
	rc = classify_train(set, &p, &m);
	if (rc) {
		fprintf(stderr, "citydesk train: training failed: %s\n", cd_err_name(rc));
		goto out;
	}
	classify_model_set_temperature(m, temperature);
	char path[4096];
	if (snprintf(path, sizeof path, "%s/%s", config_get(&cfg, CFG_DATA), CLASSIFY_MODEL_FILE) >=
	    (int)sizeof path) {
		fprintf(stderr, "citydesk train: data directory path too long\n");
		goto out;
	}
	if (config_ensure_data_dir(&cfg))
		goto out;
	rc = classify_model_save(m, path);
	if (rc) {
		fprintf(stderr, "citydesk train: cannot write %s: %s\n", path, cd_err_name(rc));
		goto out;
	}
	printf("model saved: %s\n", path);
	status = 0;
out:
	classify_model_free(m);
	category_tree_free(tree);
	classify_set_free(set);
	xfree(text);
	return status;
}
