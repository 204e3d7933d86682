/* One error enum for the whole project. Functions return it; results travel through
 * out-parameters. CD_OK is zero so `if (rc)` reads as "if it failed". */
#ifndef CD_ERR_H
#define CD_ERR_H

enum cd_err {
	CD_OK = 0,
	CD_ERR_NOMEM,     /* an allocation sized by input failed */
	CD_ERR_IO,        /* a system call failed; errno was logged at the call */
	CD_ERR_INVALID,   /* input is malformed (bad bytes, bad syntax) */
	CD_ERR_RANGE,     /* input is well-formed but a value is out of range */
	CD_ERR_NOTFOUND,  /* the thing asked for does not exist */
	CD_ERR_EXISTS,    /* it exists already (unique key) */
	CD_ERR_CONFLICT,  /* not allowed in the current state */
	CD_ERR_DENIED,    /* not allowed for this caller */
	CD_ERR_TOOBIG,    /* a hard size cap was reached */
	CD_ERR_STORE,     /* the store failed (SQLite error) */
	CD_ERR_CORRUPT,   /* stored data failed an integrity check */
	CD_ERR_BUSY,      /* try again later (rate limit, lock) */
};

#define CD_MUST_CHECK __attribute__((warn_unused_result))

/* A short English name for rc, for logs ("nomem", "notfound", ...). Never NULL. */
const char *cd_err_name(enum cd_err rc);

#endif
