# Shell helpers shared by test/run-all and test/demo (sourced, not run).
#
# Both scripts must work on a fresh Debian 12 machine where nothing is
# installed (that is what CI gives us) and on a developer machine where
# everything already is, so packages are installed only when missing.  The
# extension is always built in a private copy of the tree: building in the
# user's checkout as root would leave root-owned files behind.

PGQ_PG_BINDIR=/usr/lib/postgresql/15/bin
PGQ_PG_CONFIG=$PGQ_PG_BINDIR/pg_config

# What it takes to build the extension and the client programs (walmgr
# links libpq, for SHA-256 libcrypto, and for compressed WAL zlib, liblz4
# and libzstd; qadmin's line editing readline) and run a server with them.
PGQ_BUILD_PACKAGES="postgresql-15 postgresql-server-dev-15 libpq-dev libssl-dev zlib1g-dev liblz4-dev libzstd-dev libreadline-dev libyaml-dev libb2-dev make gcc"
# What the test suite adds: the TAP framework's IPC::Run, the two real
# clients the TAP tests drive, the fault injection tools of the walmgr
# tests (strace for syscall order, fiu-run for failing fsync and write),
# the lz4 and zstd programs that check walmgr's compressed files, tmux for
# qadmin's interactive session, and pkg-config to build the consumer
# library's example the way a user would (statically too: libpq's static
# link names libgssapi_krb5 and libldap).
PGQ_TEST_PACKAGES="libipc-run-perl pgqd python3-pgq python3-londiste strace fiu-utils lz4 zstd tmux pkg-config libkrb5-dev libldap-dev"
# Debian's original server packages.  They ship extensions named like ours,
# so they are never installed: the tests that compare with them or switch a
# database from them to us unpack them into private trees
# (test/perl/OriginalStack.pm).
PGQ_ORIGINAL_PACKAGES="postgresql-15-pgq3 postgresql-15-pgq-node postgresql-15-londiste-sql"

pgq_say()
{
	printf '%s: %s\n' "${0##*/}" "$*"
}

pgq_is_root()
{
	[ "$(id -u)" -eq 0 ]
}

# Install the named Debian packages that are not installed yet.  Without
# root this only reports what is missing; later steps then fail on their own
# if something they need is absent.
pgq_install_packages()
{
	local pkg
	local missing=()

	for pkg in "$@"; do
		dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null |
			grep -q '^install ok installed$' || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0

	if ! pgq_is_root; then
		pgq_say "not running as root: skipping package installation (missing: ${missing[*]})"
		return 0
	fi
	pgq_say "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -q &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends "${missing[@]}"
}

# Download the original server packages into directory $1 (as root; apt's
# sandbox user must be able to write there).  Without root, the directory
# named by PGQ_ORIGINAL_DEBS is used as it is, if any.
pgq_download_originals()
{
	if ! pgq_is_root; then
		return 0
	fi
	chown _apt "$1" 2>/dev/null
	(cd "$1" && apt-get download -q $PGQ_ORIGINAL_PACKAGES) ||
		(DEBIAN_FRONTEND=noninteractive apt-get update -q &&
			cd "$1" && apt-get download -q $PGQ_ORIGINAL_PACKAGES)
}

# Create a scratch directory under /tmp that the user running the servers
# can write, and print its name.
pgq_make_scratch_dir()
{
	local dir

	dir=$(mktemp -d "/tmp/$1.XXXXXX") || return 1
	if pgq_is_root; then
		chown postgres: "$dir" || return 1
	fi
	printf '%s\n' "$dir"
}

# Copy the source tree (without .git) from $1 into the existing directory $2.
pgq_copy_tree()
{
	tar -C "$1" --exclude=./.git -cf - . | tar -C "$2" -xf -
}

# Build the extension from scratch in $1 and install it into the system
# PostgreSQL 15.  Installing needs root; without it the installed build is
# used as it is.
pgq_build_install()
{
	make -C "$1" -s PG_CONFIG="$PGQ_PG_CONFIG" clean &&
		make -C "$1" PG_CONFIG="$PGQ_PG_CONFIG" || return 1
	if pgq_is_root; then
		make -C "$1" PG_CONFIG="$PGQ_PG_CONFIG" install
	else
		pgq_say "not running as root: skipping make install, using the pgq already installed"
	fi
}

# Hand a scratch tree to the user that runs the servers.
pgq_give_to_server_user()
{
	if pgq_is_root; then
		chown -R postgres: "$1"
	fi
}

# Run a command as the user that runs the servers: postgres when we are
# root (PostgreSQL refuses to run as root), else ourselves.
pgq_as_server_user()
{
	if pgq_is_root; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Print a TCP port on 127.0.0.1 that nothing listens on, starting at $1.
pgq_free_port()
{
	local port=$1

	while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		port=$((port + 1))
	done
	printf '%s\n' "$port"
}
