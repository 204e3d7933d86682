/* Which category tree the server uses: a district's own tree imported with
 * `citydesk import categories FILE.csv` (kept as DATA/categories.csv), else the default
 * taxonomies from the categories directory (hotline, urban management, limits). */
#ifndef CD_APP_CATEGORIES_H
#define CD_APP_CATEGORIES_H

#include "app/config.h"
#include "core/category.h"
#include "store/store.h"

/* Builds and freezes the tree in use. reason gets a sentence (with the file and line) on failure. */
enum cd_err categories_load(const struct config *cfg, struct category_tree **out, char *reason,
			    size_t reason_cap) CD_MUST_CHECK;
/* Checks FILE.csv as a whole tree (code,name,parent_code[,limit_kind,limit_value,urgency]) and,
 * when it is sound, makes it the district's tree (written atomically to DATA/categories.csv,
 * audited). The server uses it from its next start. Nothing changes on failure. */
enum cd_err categories_import(const struct config *cfg, struct store *st, const struct store_actor *actor,
			      const char *path, char *reason, size_t reason_cap) CD_MUST_CHECK;

#endif
