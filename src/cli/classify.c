/* `citydesk classify`: reads one text per line on stdin and prints the model's answer for each,
 * `L1-name<TAB>code<TAB>confidence`, one line out per line in, in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/classify.h"
#include "util/alloc.h"


static const char usage[] =
    "usage: citydesk classify [--model PATH] [--top K] [--data DIR] < texts\n"
    "Reads one text per line (UTF-8, Simplified or Traditional) and prints one line per text:\n"
    "L1-name<TAB>code<TAB>confidence (the softmax probability); with --top K, K such triples\n"
    "separated by tabs. The model is DATA/" CLASSIFY_MODEL_FILE " unless --model names one;\n"
    "`citydesk train` makes it.\n";

int cli_classify(int argc, char **argv)
{
	struct config cfg;
	config_init(&cfg);
	if (cli_wants_help(argc, argv)) {
		printf("%s\n", usage);
		config_print_help();
		return 0;
	}
	const char *model_path = NULL;
	long top = 1;
	for (int i = 1; i < argc; i++) {
		int taken = config_take_flag(&cfg, argc, argv, &i);
		if (taken < 0)
			return 2;
		if (taken)
			continue;
		if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
			model_path = argv[++i];
		} else if (strcmp(argv[i], "--top") == 0 && i + 1 < argc) {
			char *end = NULL;
			top = strtol(argv[++i], &end, 10);
			if (!*argv[i] || *end || top < 1 || top > 16) {
				fprintf(stderr, "citydesk classify: --top takes 1..16\n");
				return 2;
			}
		} else {
			fprintf(stderr, "citydesk classify: unexpected argument %s\n%s", argv[i], usage);
			return 2;
		}
	}
	char path[4096];
	if (!model_path) {
		if (snprintf(path, sizeof path, "%s/%s", config_get(&cfg, CFG_DATA), CLASSIFY_MODEL_FILE) >=
		    (int)sizeof path) {
			fprintf(stderr, "citydesk classify: data directory path too long\n");
			return 1;
		}
		model_path = path;
	}
	struct classify_model *m = NULL;
	enum cd_err rc = classify_model_load(model_path, &m);
	if (rc) {
		fprintf(stderr, "citydesk classify: cannot load the model %s: %s%s\n", model_path,
			cd_err_name(rc), rc == CD_ERR_NOTFOUND ? " (run `citydesk train` first)" : "");
		return 1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int status = 0;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		size_t len = (size_t)n;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		size_t labels[16];
		double probs[16];
		size_t got = classify_model_rank(m, line, len, (size_t)top, labels, probs);
		if (got == 0) {
			fprintf(stderr, "citydesk classify: out of memory\n");
			status = 1;
			break;
		}
		for (size_t k = 0; k < got; k++)
			printf("%s%s\t%s\t%.3f", k ? "\t" : "", classify_model_label_name(m, labels[k]),
			       classify_model_label_code(m, labels[k]), probs[k]);
		putchar('\n');
	}
	xfree(line); /* getline allocated it with the C library's malloc, which xfree pairs with */
	if (fflush(stdout) != 0)
		status = 1;
	classify_model_free(m);
	return status;
}
