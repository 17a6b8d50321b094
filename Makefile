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

dist:
	bash scripts/dist.sh $(PG_CONFIG) $(DATA_built)
