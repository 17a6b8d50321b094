/*
 * store.c: crmpool's own tables, read and written from C.
 *
 * Statements on them are fixed texts (CrmpoolStmt, privilege.c runs them); what follows are the
 * helpers every module that keeps one of crmpool's tables shares.
 */
#include "postgres.h"

#include "utils/array.h"
#include "utils/lsyscache.h"

#include "base/base.h"

/* A one-dimensional array of n elements of type (nulls may be NULL: none is null). */
Datum
crmpool_array(Datum *elems, bool *nulls, int n, Oid type)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, type,
											  typlen, typbyval, typalign));
}
