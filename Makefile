# crmpool: PGXS build.  `make`, `make install`, `make installcheck` (starts its own servers).
EXTENSION  = crmpool
EXTVERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = crmpool
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*/*.c)))

# The install script of the current version is generated from the parts under sql/parts
# (concatenated in name order).  A released version's install script is frozen as
# sql/crmpool--X.sql, exactly what its users have; the upgrade script from the last release is
# generated from sql/upgrade/PREV--CUR/*.sql.
PREVVERSION = 0.1
UPGRADE     = sql/$(EXTENSION)--$(PREVVERSION)--$(EXTVERSION).sql
DATA_built  = sql/$(EXTENSION)--$(EXTVERSION).sql $(UPGRADE)
DATA        = sql/$(EXTENSION)--$(PREVVERSION).sql
EXTRA_CLEAN = $(DATA_built) tmp_check_regress tmp_check_iso output_iso $(OBJS:.o=.d)

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers
# -MMD: each object's .d lists the headers it includes (read below), so a header change
# rebuilds what includes it.
PG_CFLAGS  += -MMD -MP
ifdef WERROR
PG_CFLAGS  += -Werror
endif

# Tests.  Each suite starts its own temporary server with crmpool preloaded.
TESTS          := $(sort $(wildcard test/sql/*.sql))
REGRESS        := $(patsubst test/sql/%.sql,%,$(TESTS))
REGRESS_OPTS   = --inputdir=test --outputdir=test --temp-instance=tmp_check_regress \
                 --temp-config=test/crmpool.conf --load-extension=crmpool
SPECS          := $(sort $(wildcard test/specs/*.spec))
ISOLATION      := $(patsubst test/specs/%.spec,%,$(SPECS))
ISOLATION_OPTS = --inputdir=test --outputdir=output_iso --temp-instance=tmp_check_iso \
                 --temp-config=test/crmpool.conf --load-extension=crmpool
PROVE_TESTS    := $(sort $(wildcard test/t/*.pl))
ifneq ($(PROVE_TESTS),)
TAP_TESTS      = 1
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard sql/parts/*.sql))
	cat $^ > $@

$(UPGRADE): $(sort $(wildcard sql/upgrade/$(PREVVERSION)--$(EXTVERSION)/*.sql))
	cat $^ > $@

-include $(OBJS:.o=.d)

# Translations: po/LANG.po is compiled to po/LANG.mo and installed as
# <localedir>/LANG/LC_MESSAGES/crmpool-<major>.mo (localedir: pg_config --localedir), where the
# server looks for the domain.  A server built without NLS translates nothing: nothing to build.
# `make update-po` extracts the messages of the code into po/crmpool.pot and merges them into
# every po/LANG.po (msgmerge), for a translator to fill in.
include $(srcdir)/po/nls.mk
MO_FILES = $(addprefix po/,$(addsuffix .mo,$(AVAIL_LANGUAGES)))
EXTRA_CLEAN += $(MO_FILES)

ifeq ($(enable_nls),yes)
all: $(MO_FILES)
install: install-po
uninstall: uninstall-po
endif

po/%.mo: po/%.po
	$(MSGFMT) -c -o $@ $<

.PHONY: install-po uninstall-po update-po
install-po: $(MO_FILES)
	for lang in $(AVAIL_LANGUAGES); do \
		$(MKDIR_P) '$(DESTDIR)$(localedir)'/$$lang/LC_MESSAGES && \
		$(INSTALL_DATA) po/$$lang.mo '$(DESTDIR)$(localedir)'/$$lang/LC_MESSAGES/$(CATALOG_NAME)-$(MAJORVERSION).mo || exit 1; \
	done

uninstall-po:
	rm -f $(foreach lang,$(AVAIL_LANGUAGES),'$(DESTDIR)$(localedir)'/$(lang)/LC_MESSAGES/$(CATALOG_NAME)-$(MAJORVERSION).mo)

po/$(CATALOG_NAME).pot: $(GETTEXT_FILES) po/nls.mk
	$(XGETTEXT) -o $@ --no-wrap --sort-by-file --from-code=UTF-8 --package-name=crmpool \
		--package-version=$(EXTVERSION) $(addprefix -k,$(GETTEXT_TRIGGERS)) \
		$(addprefix --flag=,$(GETTEXT_FLAGS)) $(GETTEXT_FILES)

update-po: po/$(CATALOG_NAME).pot
	for lang in $(AVAIL_LANGUAGES); do \
		$(MSGMERGE) --update --no-wrap --sort-by-file --previous po/$$lang.po $< || exit 1; \
	done

# JIT bitcode follows its object.
$(OBJS:.o=.bc): %.bc: %.o

.PHONY: version
version:
	@echo $(EXTVERSION)

# Packages.  `make deb`: the Debian package postgresql-NN-crmpool for this system's PostgreSQL
# (debian/, pg_buildext); `make dist`: the PGXN archive crmpool-X.Y.Z.zip of HEAD, with the
# generated scripts.  test/package/run installs and tests both.
.PHONY: deb dist
deb:
	bash scripts/deb.sh

# The archive carries the compiled translations too: building it needs no msgfmt.
dist:
	bash scripts/dist.sh $(PG_CONFIG) $(DATA_built) $(MO_FILES)
