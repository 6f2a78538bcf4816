#!/bin/sh
# check-not-packaged.sh FILE...
#
# Run by "make install" before it writes anything: refuses (exit 1) when one
# of the FILEs it is about to write belongs to an installed Debian package,
# such as Debian's postgresql-15-pgq3, whose pgq.control and SQL scripts
# have the same names as ours.  Overwriting them would leave dpkg's record
# and the files on disk disagreeing, and the next upgrade or removal of
# that package would silently replace or delete our files.
#
#   FORCE_INSTALL=1   warn, and let the installation go ahead
#   DPKG_QUERY        the dpkg-query command (default dpkg-query); where it
#                     does not exist there is no dpkg database to protect
#
# Output of "dpkg-query -S PATH...": one "pkg[, pkg]: path" line per owned
# path, "diversion by ..." lines for diverted ones (skipped here), and
# errors on stderr for paths that no package owns.

dpkg_query=${DPKG_QUERY:-dpkg-query}

[ $# -gt 0 ] || exit 0
command -v "$dpkg_query" >/dev/null 2>&1 || exit 0

owned=$("$dpkg_query" -S "$@" 2>/dev/null | grep -v '^diversion by ')
[ -n "$owned" ] || exit 0

if [ "${FORCE_INSTALL:-0}" = 1 ]; then
	echo "warning: FORCE_INSTALL=1: overwriting files of Debian packages:" >&2
	echo "$owned" | sed 's/^/  /' >&2
	exit 0
fi

packages=$(echo "$owned" | sed 's/: .*//; s/, /\n/g' | sort -u | tr '\n' ' ' | sed 's/ $//')
{
	echo "error: refusing to overwrite files that belong to the Debian package(s) $packages:"
	echo "$owned" | sed 's/^/  /'
	echo "Remove the package(s) first (apt-get remove $packages),"
	echo "or run \"make install FORCE_INSTALL=1\" to overwrite them anyway."
} >&2
exit 1
