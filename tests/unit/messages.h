/* The labelled citizen messages (the CSV files in ../shared/data/complaints: message_id, user_id, title,
 * time, detail, label...) for tests and benchmarks, read with the project's CSV reader. */
#ifndef CD_TEST_MESSAGES_H
#define CD_TEST_MESSAGES_H

#include <stddef.h>
#include <string.h>

#include "util/alloc.h"
#include "util/csv.h"

struct message {
	char *title;  /* column 3 */
	char *detail; /* column 5 */
	char *label;  /* column 6, or "" when the file has none */
};

/* Reads up to max messages from path into a new array (messages_free); returns how many. */
static inline size_t messages_load(const char *path, size_t max, struct message **out)
{
	char *text = NULL;
	size_t len = 0, n = 0;
	struct csv_reader r;
	*out = NULL;
	if (file_read_all(path, 1u << 23, &text, &len) != CD_OK)
		return 0;
	*out = xcalloc(max ? max : 1, sizeof **out);
	csv_init(&r, text, len);
	if (csv_next(&r) == CD_OK) { /* the header */
		while (n < max && csv_next(&r) == CD_OK) {
			if (r.nfields < 5)
				continue;
			(*out)[n].title = xstrdup(r.fields[2]);
			(*out)[n].detail = xstrdup(r.fields[4]);
			(*out)[n].label = xstrdup(r.nfields > 5 ? r.fields[5] : "");
			n++;
		}
	}
	csv_release(&r);
	xfree(text);
	return n;
}

static inline void messages_free(struct message *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++) {
		xfree(m[i].title);
		xfree(m[i].detail);
		xfree(m[i].label);
	}
	xfree(m);
}

#endif
