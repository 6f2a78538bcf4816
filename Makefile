# Makefile for the pgq extension (PGXS)
#
# make                  build the shared library and the install script
# make install          install both into the server found by pg_config,
#                       and the client programs into CLIENT_BINDIR
#                       (default /usr/local/bin; see src/client.mk)
# make installcheck     run pg_regress, isolation and TAP tests, each on a
#                       private temporary cluster (no running server needed)
#
# test/run-all wraps installcheck for CI: it installs the build and test
# dependencies, runs every layer as an unprivileged user and prints a
# "N passed, N failed" summary.

EXTENSION = pgq
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = pgq
OBJS = \
	$(WIN32RES) \
	src/server/batch.o \
	src/server/insert.o \
	src/server/launcher.o \
	src/server/module.o \
	src/server/queue.o \
	src/server/retry.o \
	src/server/ticker.o \
	src/server/ticker_worker.o \
	src/server/triggers/common.o \
	src/server/triggers/jsontriga.o \
	src/server/triggers/logutriga.o \
	src/server/triggers/sqltriga.o \
	src/server/wakeup.o
PGFILEDESC = "pgq - transactional event queues"

# The install script is assembled from the pieces in src/server/sql; the
# order matters because SQL-language functions are checked at creation.
SQL_PARTS = \
	src/server/sql/schema.sql \
	src/server/sql/functions_c.sql \
	src/server/sql/functions_admin.sql \
	src/server/sql/triggers.sql \
	src/server/sql/grants.sql \
	src/server/sql/ticker_status.sql

# Companion extensions have their own folder under src/, with the control
# file and the pieces of the install script, which each assembles from the
# same three parts in this order (see the rule below).  PGXS installs the
# control file of EXTENSION only, so theirs go through DATA.
COMPANIONS = pgq_ext pgq_coop
COMPANION_SQL_PARTS = schema.sql functions.sql grants.sql
companion_version = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" src/$(1)/$(1).control)
companion_script = $(1)--$(call companion_version,$(1)).sql

DATA = $(foreach c,$(COMPANIONS),src/$(c)/$(c).control)
DATA_built = \
	$(EXTENSION)--$(EXTVERSION).sql \
	$(foreach c,$(COMPANIONS),$(call companion_script,$(c)))

PG_CPPFLAGS = -Isrc/server
PG_CFLAGS = -Wall -Wmissing-prototypes -Werror=implicit-function-declaration

# pg_regress: every sql/*.sql in name order, in one database that already
# has the extension.  Isolation specs live in test/specs.
REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=pgq --temp-instance=./tmp_check
ISOLATION = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --outputdir=output_iso \
	--load-extension=pgq --temp-instance=./tmp_check_iso
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

EXTRA_CLEAN = output_iso tmp_check tmp_check_iso

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

define companion_rule
$(call companion_script,$(1)): $(addprefix src/$(1)/,$(COMPANION_SQL_PARTS))
	cat $$^ > $$@
endef
$(foreach c,$(COMPANIONS),$(eval $(call companion_rule,$(c))))

# Client programs: every src/<name>/ with a Makefile, which includes
# src/client.mk (PGXS builds one PROGRAM per makefile; client.mk also says
# where they are installed: CLIENT_BINDIR, /usr/local/bin by default).  They
# are built one after the other because they share src/framework's
# objects.  test/framework holds a test-only program on the same objects,
# built after them and never installed.
CLIENT_DIRS = $(patsubst %/Makefile,%,$(wildcard src/*/Makefile))

.PHONY: clients-all clients-install clients-uninstall clients-clean probe-all probe-clean
all: clients-all probe-all
install: clients-install
uninstall: clients-uninstall
clean: clients-clean probe-clean
installcheck: clients-all probe-all

clients-all clients-install clients-uninstall clients-clean:
	@set -e; for dir in $(CLIENT_DIRS); do \
		$(MAKE) -C $$dir PG_CONFIG=$(PG_CONFIG) $(patsubst clients-%,%,$@); \
	done
probe-all: clients-all
	$(MAKE) -C test/framework PG_CONFIG=$(PG_CONFIG)
probe-clean: clients-clean
	$(MAKE) -C test/framework PG_CONFIG=$(PG_CONFIG) clean
