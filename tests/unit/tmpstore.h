/* A store in a fresh temporary directory for unit tests, removed with every file SQLite and
 * the intake journal leave beside it. */
#ifndef CD_TEST_TMPSTORE_H
#define CD_TEST_TMPSTORE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"

struct tmpdb {
	char dir[64];      /* the temporary directory */
	char path[128];    /* DIR/citydesk.db */
	char journal[160]; /* DIR/citydesk.db-intake */
};

static inline void tmpdb_make(struct tmpdb *t)
{
	snprintf(t->dir, sizeof t->dir, "/tmp/citydesk-test-XXXXXX");
	if (!mkdtemp(t->dir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(t->path, sizeof t->path, "%s/citydesk.db", t->dir);
	snprintf(t->journal, sizeof t->journal, "%s-intake", t->path);
}

static inline void tmpdb_remove(struct tmpdb *t)
{
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal", "-intake", "-intake.copy"};
	char p[192];
	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		snprintf(p, sizeof p, "%s%s", t->path, suffix[i]);
		unlink(p);
	}
	rmdir(t->dir);
}

/* Opens (creating and migrating) the store; a failure is a failed check and ends the run. */
static inline struct store *open_ok(const struct tmpdb *t)
{
	struct store *st = NULL;
	CHECK_INT_EQ(store_open(t->path, &st), CD_OK);
	if (!st) {
		fprintf(stderr, "cannot open test store\n");
		exit(2);
	}
	return st;
}

#endif
