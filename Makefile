# Makefile for the pgq extension (PGXS)
#
# make                  build the shared library and the install script
# make install          install both into the server found by pg_config,
#                       and the client programs into CLIENT_BINDIR
#                       (default /usr/local/bin; see src/client.mk)
#                       (refused when a Debian package owns one of the
#                       extension's files, unless FORCE_INSTALL=1)
# make dist             pgq-<version>.zip for PGXN (git archive of HEAD)
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
	src/pgq/batch.o \
	src/pgq/insert.o \
	src/pgq/queue.o \
	src/pgq/retry.o \
	src/pgq/tick.o \
	src/pgq/triggers/common.o \
	src/pgq/triggers/jsontriga.o \
	src/pgq/triggers/logutriga.o \
	src/pgq/triggers/sqltriga.o \
	src/pgq_coop/coop.o \
	src/pgq_node/state.o \
	src/ticker/launcher.o \
	src/ticker/module.o \
	src/ticker/wakeup.o \
	src/ticker/worker.o
PGFILEDESC = "pgq - transactional event queues"

# The install script is assembled from the pieces in src/pgq/sql and the
# ticker's status view; the order matters because SQL-language functions
# are checked at creation.
SQL_PARTS = \
	src/pgq/sql/schema.sql \
	src/pgq/sql/functions_c.sql \
	src/pgq/sql/functions_admin.sql \
	src/pgq/sql/triggers.sql \
	src/pgq/sql/grants.sql \
	src/ticker/ticker_status.sql

# Companion extensions have their own folder under src/, with the control
# file and the pieces of the install script, which each assembles from the
# same three parts in this order (see the rule below).  PGXS installs the
# control file of EXTENSION only, so theirs go through DATA.
COMPANIONS = pgq_ext pgq_coop pgq_node londiste
COMPANION_SQL_PARTS = schema.sql functions.sql grants.sql
companion_version = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" src/$(1)/$(1).control)
companion_script = $(1)--$(call companion_version,$(1)).sql

# ALTER EXTENSION ... UPDATE scripts, from the originals' versions to ours,
# live beside each extension's sources in src/<extension>/updates/.  A
# <script>.sql there is installed as it is.  A <script>.sql.in holds only
# what the update does besides replacing functions: the built <script>.sql
# is that, followed by the functions and grants of the extension's install
# script with each CREATE FUNCTION made CREATE OR REPLACE FUNCTION, so
# that every function gets its current definition while keeping its OID
# (triggers and other extensions' objects that point at it keep working).
UPDATE_TEMPLATES = $(sort $(wildcard src/*/updates/*.sql.in))
update_extension = $(word 2,$(subst /, ,$(1)))
update_script = $(notdir $(basename $(1)))
FUNCTION_PARTS_pgq = $(filter-out src/pgq/sql/schema.sql,$(SQL_PARTS))
$(foreach c,$(COMPANIONS),$(eval FUNCTION_PARTS_$(c) = $(addprefix src/$(c)/,$(filter-out schema.sql,$(COMPANION_SQL_PARTS)))))

DATA = $(foreach c,$(COMPANIONS),src/$(c)/$(c).control) \
	$(sort $(wildcard src/*/updates/*.sql))
DATA_built = \
	$(EXTENSION)--$(EXTVERSION).sql \
	$(foreach c,$(COMPANIONS),$(call companion_script,$(c))) \
	$(foreach t,$(UPDATE_TEMPLATES),$(call update_script,$(t)))

# The in-server ticker serves only databases whose pgq has this version.
PG_CPPFLAGS = -Isrc/pgq -Isrc/ticker -DPGQ_EXTENSION_VERSION=\"$(EXTVERSION)\"
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

# "make install" refuses to overwrite files of an installed Debian package
# (Debian's postgresql-15-pgq3 ships a pgq.control too): see
# src/tools/check-not-packaged.sh; FORCE_INSTALL=1 goes ahead anyway.  A
# staged install (DESTDIR set, as debian/rules does) overwrites nothing and
# is not checked.  The check runs before anything is installed.
INSTALLED_EXTENSION_FILES = \
	$(addprefix $(datadir)/$(datamoduledir)/,$(EXTENSION).control $(notdir $(DATA) $(DATA_built))) \
	$(pkglibdir)/$(MODULE_big)$(DLSUFFIX) \
	$(if $(filter yes,$(with_llvm)),$(pkglibdir)/bitcode/$(MODULE_big).index.bc)

.PHONY: check-not-packaged
check-not-packaged:
ifeq ($(DESTDIR),)
	@$(SHELL) src/tools/check-not-packaged.sh $(INSTALLED_EXTENSION_FILES)
endif
installdirs installdirs-lib clients-install: check-not-packaged

# The PGXN distribution: the committed tree (HEAD) as
# <name>-<version>.zip, the version being META.json's (semver).
DIST_VERSION = $(shell sed -n 's/^    "version": *"\(.*\)",*$$/\1/p' META.json)
DIST_NAME = $(EXTENSION)-$(DIST_VERSION)
.PHONY: dist
dist:
	git archive --format=zip --prefix=$(DIST_NAME)/ -o $(DIST_NAME).zip HEAD

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

define companion_rule
$(call companion_script,$(1)): $(addprefix src/$(1)/,$(COMPANION_SQL_PARTS))
	cat $$^ > $$@
endef
$(foreach c,$(COMPANIONS),$(eval $(call companion_rule,$(c))))

define update_rule
$(call update_script,$(1)): $(1) $$(FUNCTION_PARTS_$(call update_extension,$(1)))
	(cat $$<; sed 's/^CREATE FUNCTION /CREATE OR REPLACE FUNCTION /' \
		$$(FUNCTION_PARTS_$(call update_extension,$(1)))) > $$@
endef
$(foreach t,$(UPDATE_TEMPLATES),$(eval $(call update_rule,$(t))))

# Client programs: every src/<name>/ with a Makefile, which includes
# src/client.mk (PGXS builds one PROGRAM per makefile; client.mk also says
# where they are installed: CLIENT_BINDIR, /usr/local/bin by default).  They
# are built one after the other because they share src/framework's
# objects.  test/framework holds a test-only program on the same objects,
# test/libpgq one on the consumer library, and test/londiste3/* probes of
# londiste3's table handlers and initial copy, built after them and never
# installed.
# The consumer library comes first: the programs on it link its archive.
CLIENT_DIRS = $(patsubst %/Makefile,%,$(wildcard src/libpgq/Makefile) \
	$(filter-out src/libpgq/Makefile,$(wildcard src/*/Makefile)))

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
	$(MAKE) -C test/libpgq PG_CONFIG=$(PG_CONFIG)
	$(MAKE) -C test/londiste3/handlers PG_CONFIG=$(PG_CONFIG)
	$(MAKE) -C test/londiste3/copy PG_CONFIG=$(PG_CONFIG)
probe-clean: clients-clean
	$(MAKE) -C test/framework PG_CONFIG=$(PG_CONFIG) clean
	$(MAKE) -C test/libpgq PG_CONFIG=$(PG_CONFIG) clean
	$(MAKE) -C test/londiste3/handlers PG_CONFIG=$(PG_CONFIG) clean
	$(MAKE) -C test/londiste3/copy PG_CONFIG=$(PG_CONFIG) clean
