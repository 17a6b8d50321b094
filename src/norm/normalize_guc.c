/*
 * normalize_guc.c: the settings of the duplicate-detection normalizers.
 *
 * Both are PGC_SUSET.  They decide which rows the duplicate check treats as the same customer,
 * so a rep who could change them in a session could switch duplicate detection off for the
 * rows he inserts (crmpool.name_threshold = 1, or another default country, and his phone
 * numbers no longer equal the stored ones).  An administrator sets them per database or role.
 * Stored keys (indexes on normalize_phone(...)) must be rebuilt when default_country changes;
 * the two-argument form normalize_phone(phone, '86') does not depend on it.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "normalize.h"

char	   *crmpool_default_country = NULL;
double		crmpool_name_threshold = 0.8;

bool
crmpool_valid_country_code(const char *cc)
{
	int			i;

	if (cc == NULL || cc[0] < '1' || cc[0] > '9')
		return false;
	for (i = 0; cc[i] != '\0'; i++)
		if (i == 3 || cc[i] < '0' || cc[i] > '9')
			return false;
	return true;
}

static bool
check_default_country(char **newval, void **extra, GucSource source)
{
	if (crmpool_valid_country_code(*newval))
		return true;
	GUC_check_errdetail("A country is given by its calling code: 1 to 3 digits without \"+\", such as \"86\".");
	return false;
}

void
normalize_define_gucs(void)
{
	DefineCustomStringVariable("crmpool.default_country",
							   "Country calling code of phone numbers written without one.",
							   "Used by crmpool.normalize_phone when no default country is passed.",
							   &crmpool_default_country,
							   "86",
							   PGC_SUSET,
							   0,
							   check_default_country, NULL, NULL);

	/*
	 * 0.8 sits between the scores of the same company (1.0, or 0.90 with region and industry
	 * missing on one side) and of different ones (at most 0.75 for any difference in the core,
	 * 0.5 for any conflict): see name_similarity.c.
	 */
	DefineCustomRealVariable("crmpool.name_threshold",
							 "Lowest crmpool.name_similarity at which two company names are duplicates.",
							 NULL,
							 &crmpool_name_threshold,
							 0.8,
							 0.0, 1.0,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}
