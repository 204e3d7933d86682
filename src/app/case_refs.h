/* Refs of recent cases by id, in memory. A case's ref never changes once given, so entries
 * never go stale: a direct-mapped table (a newer id takes the slot) spares an answer that names
 * another case (duplicate_of, merged_into) a whole case read (decoding ~24 KB) to print its ref.
 * Intake notes every new case, and the duplicate finder hands back its candidates' refs. */
#ifndef CD_CASE_REFS_H
#define CD_CASE_REFS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* Remembers that case id of store st has ref. Ignores id <= 0 and empty refs. Thread-safe. */
void case_refs_note(const struct store *st, int64_t id, const char *ref);

/* Copies the remembered ref of case id of st into out; false when it is not remembered. */
bool case_refs_get(const struct store *st, int64_t id, char out[STORE_CASE_REF_MAX]);

#endif
