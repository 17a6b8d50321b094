# crmpool: PGXS build.  `make`, `make install`, `make installcheck` (starts its own servers).
EXTENSION  = crmpool
EXTVERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = crmpool
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script is generated from the parts under sql/parts (concatenated in name order);
# every released version step has its own upgrade script sql/crmpool--A--B.sql.
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA       = $(wildcard sql/$(EXTENSION)--*--*.sql)
EXTRA_CLEAN = sql/$(EXTENSION)--$(EXTVERSION).sql tmp_check_regress tmp_check_iso output_iso

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers
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

# Every file includes the shared header; PGXS tracks no header dependencies by itself.
$(OBJS): src/crmpool.h

.PHONY: version
version:
	@echo $(EXTVERSION)
