/* Loading and importing the category tree; see categories.h. */
#include "app/categories.h"

#include <stdio.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/csv.h"

#define CATEGORY_FILE_MAX (16u << 20)

static enum cd_err read_in(const char *dir, const char *name, char **text, size_t *len, char *reason, size_t cap)
{
	char path[4200];
	snprintf(path, sizeof path, "%.4000s/%s", dir, name);
	enum cd_err rc = file_read_all(path, CATEGORY_FILE_MAX, text, len);
	if (rc)
		snprintf(reason, cap, "cannot read %s (%s)", path, cd_err_name(rc));
	return rc;
}

enum cd_err categories_load(const struct config *cfg, struct category_tree **out, char *reason, size_t cap)
{
	struct category_tree *t = category_tree_new();
	struct category_error err = {0, ""};
	char *own = NULL, *hotline = NULL, *urban = NULL, *limits = NULL;
	size_t ol = 0, hl = 0, ul = 0, ll = 0;
	enum cd_err rc;
	/* A district's imported tree wins over the defaults. */
	char scratch[8];
	if (read_in(config_get(cfg, CFG_DATA), "categories.csv", &own, &ol, scratch, sizeof scratch) == CD_OK) {
		rc = category_tree_load_csv(t, own, ol, &err);
		if (rc)
			snprintf(reason, cap, "categories.csv line %zu: %s", err.line, err.message);
	} else {
		const char *dir = config_get(cfg, CFG_CATEGORIES);
		rc = read_in(dir, "hotline-taxonomy-L1-L2-L3.csv", &hotline, &hl, reason, cap);
		if (!rc)
			rc = read_in(dir, "urban-parts-and-matters.csv", &urban, &ul, reason, cap);
		if (!rc)
			rc = read_in(dir, "limits.csv", &limits, &ll, reason, cap);
		if (!rc) {
			rc = category_tree_load_default(t, hotline, hl, urban, ul, limits, ll, &err);
			if (rc)
				snprintf(reason, cap, "categories line %zu: %s", err.line, err.message);
		}
	}
	xfree(own);
	xfree(hotline);
	xfree(urban);
	xfree(limits);
	if (rc) {
		category_tree_free(t);
		return rc;
	}
	category_tree_freeze(t);
	*out = t;
	return CD_OK;
}

enum cd_err categories_import(const struct config *cfg, struct store *st, const struct store_actor *actor,
			      const char *path, char *reason, size_t cap)
{
	char *text = NULL;
	size_t len = 0;
	struct category_error err = {0, ""};
	struct category_tree *t = category_tree_new();
	enum cd_err rc = file_read_all(path, CATEGORY_FILE_MAX, &text, &len);
	if (rc) {
		snprintf(reason, cap, "cannot read the file (%s)", cd_err_name(rc));
		goto out;
	}
	rc = category_tree_load_csv(t, text, len, &err);
	if (rc) {
		snprintf(reason, cap, "line %zu: %s", err.line, err.message);
		goto out;
	}
	char dest[4200], tmp[4300];
	snprintf(dest, sizeof dest, "%.4000s/categories.csv", config_get(cfg, CFG_DATA));
	snprintf(tmp, sizeof tmp, "%s.tmp", dest);
	FILE *f = fopen(tmp, "wb");
	rc = CD_ERR_IO;
	if (!f || fwrite(text, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		if (f)
			fclose(f);
		unlink(tmp);
		snprintf(reason, cap, "cannot write %s", tmp);
		goto out;
	}
	if (fclose(f) != 0 || rename(tmp, dest) != 0) {
		unlink(tmp);
		snprintf(reason, cap, "cannot replace %s", dest);
		goto out;
	}
	char after[64];
	snprintf(after, sizeof after, "{\"categories\":%zu}", category_count(t));
	rc = store_audit_append(st, actor, "categories.import", "categories", NULL, after);
	if (rc)
		snprintf(reason, cap, "imported, but the audit entry failed (%s)", cd_err_name(rc));
	else
		snprintf(reason, cap, "%zu categories; restart the server to use them", category_count(t));
out:
	category_tree_free(t);
	xfree(text);
	return rc;
}
