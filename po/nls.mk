# crmpool's translations, in the form of PostgreSQL's nls.mk files (the Makefile includes it).
# The catalog is installed as crmpool-<major>.mo: the domain PG_TEXTDOMAIN("crmpool") that
# every crmpool object is compiled with.
CATALOG_NAME     = crmpool
# One po/LANG.po per language; LANG is the directory under <localedir>.
AVAIL_LANGUAGES  = zh_CN
GETTEXT_FILES    = $(sort $(wildcard src/*/*.c))
# The functions whose first argument is translated: ereport's, GUC check hooks', and _() (the
# fragments put into a message through %s; crmpool.h defines it for crmpool's domain).
GETTEXT_TRIGGERS = _ errmsg errmsg_plural:1,2 errdetail errdetail_log errdetail_plural:1,2 \
                   errhint errhint_plural:1,2 errcontext \
                   GUC_check_errmsg GUC_check_errdetail GUC_check_errhint
GETTEXT_FLAGS    = _:1:pass-c-format errmsg:1:c-format errmsg_plural:1:c-format \
                   errmsg_plural:2:c-format errdetail:1:c-format errdetail_log:1:c-format \
                   errdetail_plural:1:c-format errdetail_plural:2:c-format \
                   errhint:1:c-format errhint_plural:1:c-format errhint_plural:2:c-format \
                   errcontext:1:c-format GUC_check_errmsg:1:c-format \
                   GUC_check_errdetail:1:c-format GUC_check_errhint:1:c-format
