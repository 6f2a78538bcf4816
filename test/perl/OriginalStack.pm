# A private PostgreSQL 15 installation that runs Debian's original PgQ
# stack (postgresql-15-pgq3, -pgq-node, -londiste-sql) beside our build,
# for the tests that switch a database from the originals to us and for
# benchmarks that need the originals as a baseline.
#
# Both ship extensions named pgq, pgq_node and londiste, so they cannot
# share one tree.  make_tree() copies the installation under test (the
# one whose pg_config is on the PATH, with our build installed) into a
# directory and unpacks the original packages over it: the originals'
# control files win, our versioned scripts and our library stay beside
# them.  switch_to_ours() then does to that tree what installing our
# packages in place of Debian's does: every file the original packages
# own goes away and our control files come back.
#
# The .deb files come from the directory named by PGQ_ORIGINAL_DEBS, which
# test/run-all fills with "apt-get download"; without it the tests that
# need the originals skip.

package OriginalStack;

use strict;
use warnings;

use Exporter 'import';
use File::Copy;
use File::Path qw(make_path);
use PostgreSQL::Test::Utils;

our @EXPORT = qw(original_debs make_tree switch_to_ours);

# Extensions that exist both in the originals and in our build.
my @SHARED_EXTENSIONS = qw(pgq pgq_node londiste);

# Paths of the .deb files of the original server packages, or an empty
# list when they are not all there.
sub original_debs
{
	my $dir = $ENV{PGQ_ORIGINAL_DEBS};
	return () unless defined $dir && -d $dir;

	my @debs;
	foreach my $package (
		'postgresql-15-pgq3', 'postgresql-15-pgq-node',
		'postgresql-15-londiste-sql')
	{
		my @found = glob("$dir/${package}_*.deb");
		return () unless @found == 1;
		push @debs, $found[0];
	}
	return @debs;
}

sub pg_config_value
{
	my ($option) = @_;
	my $value = `pg_config --$option`;
	die "pg_config --$option failed" if $? != 0;
	chomp $value;
	return $value;
}

# Copy the installation under test into $dest/usr/... and unpack the
# original packages over it.  Returns the install_path to give to
# PostgreSQL::Test::Cluster->new.
sub make_tree
{
	my ($dest) = @_;
	my @debs = original_debs();
	die "original packages not found (set PGQ_ORIGINAL_DEBS)" unless @debs;

	# PostgreSQL finds its share directory relative to its binaries, so the
	# copy keeps Debian's layout under a new root.
	my $libdir = pg_config_value('bindir') . '/..';
	my $sharedir = pg_config_value('sharedir');
	make_path("$dest/usr/lib/postgresql", "$dest/usr/share/postgresql",
		"$dest/ours");
	system('cp', '-a', $libdir, "$dest/usr/lib/postgresql/15") == 0
	  or die "copying $libdir failed";
	system('cp', '-a', $sharedir, "$dest/usr/share/postgresql/15") == 0
	  or die "copying $sharedir failed";

	my $extdir = "$dest/usr/share/postgresql/15/extension";
	foreach my $ext (@SHARED_EXTENSIONS)
	{
		next unless -e "$extdir/$ext.control";
		copy("$extdir/$ext.control", "$dest/ours/$ext.control")
		  or die "saving our $ext.control failed: $!";
	}

	open my $owned, '>', "$dest/ours/original-files" or die $!;
	foreach my $deb (@debs)
	{
		system('dpkg-deb', '-x', $deb, $dest) == 0
		  or die "unpacking $deb failed";
		foreach my $line (split /\n/, `dpkg-deb -c '$deb'`)
		{
			my $path = (split ' ', $line)[5];
			print $owned "$path\n" if $path !~ m{/$};
		}
	}
	close $owned;

	return "$dest/usr/lib/postgresql/15";
}

# Remove every file of the original packages from the tree made by
# make_tree($dest) and put our control files back.
sub switch_to_ours
{
	my ($dest) = @_;

	open my $owned, '<', "$dest/ours/original-files" or die $!;
	while (my $path = <$owned>)
	{
		chomp $path;
		unlink "$dest/$path";
	}
	close $owned;

	foreach my $ext (@SHARED_EXTENSIONS)
	{
		next unless -e "$dest/ours/$ext.control";
		copy("$dest/ours/$ext.control",
			"$dest/usr/share/postgresql/15/extension/$ext.control")
		  or die "restoring $ext.control failed: $!";
	}
	return;
}

1;
