/* Names for the project-wide error enum. */
#include "util/err.h"

const char *cd_err_name(enum cd_err rc)
{
	static const char *const names[] = {
		[CD_OK] = "ok",
		[CD_ERR_NOMEM] = "nomem",
		[CD_ERR_IO] = "io",
		[CD_ERR_INVALID] = "invalid",
		[CD_ERR_RANGE] = "range",
		[CD_ERR_NOTFOUND] = "notfound",
		[CD_ERR_EXISTS] = "exists",
		[CD_ERR_CONFLICT] = "conflict",
		[CD_ERR_DENIED] = "denied",
		[CD_ERR_TOOBIG] = "toobig",
		[CD_ERR_STORE] = "store",
		[CD_ERR_CORRUPT] = "corrupt",
		[CD_ERR_BUSY] = "busy",
	};
	if ((unsigned)rc < sizeof names / sizeof names[0] && names[rc])
		return names[rc];
	return "unknown";
}
