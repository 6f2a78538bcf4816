# src/client.mk
#
# What every client program under src/ (walmgr, and those to come) shares:
# included by src/<program>/Makefile in place of PGXS, after PROGRAM, OBJS
# and PGFILEDESC; LIBS, if needed, go after the include (PGXS sets them).
#
# PGXS would install a PROGRAM into PostgreSQL's bindir, which on Debian
# (/usr/lib/postgresql/15/bin) is on nobody's PATH.  Client programs go to
# CLIENT_BINDIR instead, by default /usr/local/bin, where a user's shell
# finds them; DESTDIR is honoured as usual.  PGXS's own variable "bindir"
# keeps meaning PostgreSQL's bindir everywhere else, hence the new names.
#
#   make install CLIENT_PREFIX=/opt/pgq       programs in /opt/pgq/bin
#   make install CLIENT_BINDIR=/usr/bin       programs in /usr/bin (packages)
#
# A program on the consumer library sets USE_LIBPGQ = 1 before the include:
# it then links ../libpgq/libpgq.a (built first by the top-level Makefile)
# and finds <libpgq.h>.  A program that needs more than the public API
# (londiste3 drives batches itself) sets USE_LIBPGQ_INTERNAL = 1 instead:
# it links libpgq_internal.a, the same objects with every symbol visible,
# including the framework's, so that it has one copy of each.
# COMPAT_LINKS names the Skytools 3 names installed
# as symbolic links to the program (queue_mover3 -> queue_mover).

CLIENT_PREFIX ?= /usr/local
CLIENT_BINDIR ?= $(CLIENT_PREFIX)/bin

# the suite's version, for --version
PGQ_VERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" ../../pgq.control)

PG_CPPFLAGS += -I.. -I$(libpq_srcdir) -DPGQ_VERSION='"$(PGQ_VERSION)"'
ifdef USE_LIBPGQ
PG_CPPFLAGS += -I../libpgq
PG_LIBS_INTERNAL += ../libpgq/libpgq.a
endif
ifdef USE_LIBPGQ_INTERNAL
PG_CPPFLAGS += -I../libpgq
PG_LIBS_INTERNAL += ../libpgq/libpgq_internal.a
endif
PG_CFLAGS += -Wall -Wmissing-prototypes -Werror=implicit-function-declaration
PG_LIBS_INTERNAL += $(libpq_pgport)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS's install rules, with the program's directory in place of PostgreSQL's
install installdirs uninstall: bindir = $(CLIENT_BINDIR)

ifdef COMPAT_LINKS
install: install-compat-links
uninstall: uninstall-compat-links
.PHONY: install-compat-links uninstall-compat-links
install-compat-links: installdirs
	for link in $(COMPAT_LINKS); do \
		ln -sfn $(PROGRAM) '$(DESTDIR)$(CLIENT_BINDIR)'/$$link || exit; \
	done
uninstall-compat-links:
	for link in $(COMPAT_LINKS); do \
		rm -f '$(DESTDIR)$(CLIENT_BINDIR)'/$$link; \
	done
endif

# PGXS tracks no header dependencies; every object depends on all headers.
$(OBJS): $(wildcard *.h) $(wildcard ../framework/*.h)

# nor the libraries a program links: relink after the library changed
ifdef USE_LIBPGQ
$(PROGRAM): ../libpgq/libpgq.a
$(OBJS): ../libpgq/libpgq.h
endif
ifdef USE_LIBPGQ_INTERNAL
$(PROGRAM): ../libpgq/libpgq_internal.a
$(OBJS): $(wildcard ../libpgq/*.h)
endif
