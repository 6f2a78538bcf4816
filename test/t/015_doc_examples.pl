# The SQL examples of README.md and doc/*.md work as pasted.
#
# Every block fenced as ```sql is run with psql and ON_ERROR_STOP, the
# blocks of one file in the order they appear, each block in a session of
# its own (as a reader pastes them one by one), in a fresh database per
# file.  A block passes when psql succeeds and nothing was reported at
# WARNING or worse.  A ```text block that follows a ```sql block with only
# blank lines in between shows that block's output: psql's output must end
# with those lines (trailing white space ignored).  Fragments that cannot
# run, configuration files and output shown for any other reason must
# therefore use another fence language (```text, ```ini, or none).
#
# Each file runs twice on a server with pgq preloaded: once in a database
# its in-server ticker serves and once in one it leaves alone
# (pgq.ticker_databases), since the examples must work with and without
# that ticker.  The files are found relative to this script, which lies in
# test/t/ of the tree whose documentation it checks.

use strict;
use warnings;

use File::Basename;
use FindBin;
use lib "$FindBin::RealBin/../perl";

use IPC::Run;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $top = "$FindBin::RealBin/../..";
my @files =
  ('README.md', map { 'doc/' . basename($_) } sort glob("$top/doc/*.md"));

# The fenced blocks of a Markdown file: { lang, line, text, output }, where
# output is the text of a ```text block directly after a ```sql block.
sub fenced_blocks
{
	my ($file) = @_;
	my @lines = split /^/m, slurp_file("$top/$file");
	my @blocks;
	my $gap_since_block = 0;

	for (my $i = 0; $i < @lines; $i++)
	{
		if ($lines[$i] =~ /^\s*$/)
		{
			next;
		}
		if ($lines[$i] !~ /^(\s*)```\s*(\S*)/)
		{
			$gap_since_block = 1;
			next;
		}

		my ($indent, $lang) = (length($1), $2);
		my $start = $i + 1;
		my $text  = '';
		for ($i++; $i < @lines && $lines[$i] !~ /^\s*```\s*$/; $i++)
		{
			(my $line = $lines[$i]) =~ s/^ {0,$indent}//;
			$text .= $line;
		}
		die "$file:$start: fenced block is not closed\n" if $i >= @lines;

		if (   $lang eq 'text'
			&& @blocks
			&& $blocks[-1]{lang} eq 'sql'
			&& !$gap_since_block)
		{
			die "$file:$start: output block is empty\n" if $text !~ /\S/;
			$blocks[-1]{output} = $text;
		}
		push @blocks, { lang => $lang, line => $start, text => $text };
		$gap_since_block = 0;
	}
	return grep { $_->{lang} eq 'sql' } @blocks;
}

# Lines without trailing white space and without trailing empty lines.
sub normalised_lines
{
	my ($text) = @_;
	my @lines = map { s/\s+$//r } split /\n/, $text;

	pop @lines while @lines && $lines[-1] eq '';
	return @lines;
}

my %blocks_of = map { $_ => [ fenced_blocks($_) ] } @files;
ok(scalar @{ $blocks_of{'README.md'} }, 'README.md has SQL examples');

# Database names derived from the file names; those of the first variant
# are the ones the in-server ticker serves.
my %dbname_of =
  map { $_ => lc(basename($_, '.md')) =~ s/[^a-z0-9]+/_/gr } @files;
my $served = join(',', map { "ticked_$dbname_of{$_}" } @files);

# One ticker worker per documentation file, all at once, plus the launcher.
my $workers = scalar @files;
my $node = preloaded_node(
	'docs', "pgq.ticker_databases = '$served'
pgq.max_workers = $workers
max_worker_processes = @{[ $workers + 2 ]}
");
my $psql = $node->installed_command('psql');
my $tmp  = PostgreSQL::Test::Utils::tempdir;

foreach my $file (grep { @{ $blocks_of{$_} } } @files)
{
	foreach my $variant ('ticked', 'unticked')
	{
		my $db = "${variant}_$dbname_of{$file}";

		$node->safe_psql('postgres', "create database $db");
		foreach my $block (@{ $blocks_of{$file} })
		{
			my $where   = "$file:$block->{line} ($variant)";
			my $sqlfile = "$tmp/block.sql";
			my ($stdout, $stderr) = ('', '');

			open my $fh, '>', $sqlfile or die "could not write $sqlfile: $!";
			print $fh $block->{text};
			close $fh;
			my $ok = IPC::Run::run(
				[
					$psql, '-X', '-v', 'ON_ERROR_STOP=1',
					'-d', $node->connstr($db), '-f', $sqlfile
				],
				'<', \undef, '>', \$stdout, '2>', \$stderr);
			ok($ok && $stderr !~ /\b(WARNING|ERROR|FATAL|PANIC):/,
				"$where runs")
			  or diag("stdout:\n$stdout\nstderr:\n$stderr");

			next unless defined $block->{output};
			my @expected = normalised_lines($block->{output});
			my @actual   = normalised_lines($stdout);
			splice(@actual, 0, @actual - @expected) if @actual > @expected;
			is(join("\n", @actual), join("\n", @expected),
				"$where shows the output given below it")
			  or diag("whole output:\n$stdout");
		}
	}

	# the two variants really ran with and without a ticker (a file whose
	# examples do not create the extension gets none in either)
	if ($node->safe_psql("ticked_$dbname_of{$file}",
			"select count(*) from pg_extension where extname = 'pgq'") eq '1')
	{
		ok( $node->poll_query_until(
				'postgres',
				"select count(*) = 1 from pg_stat_activity where backend_type = 'pgq ticker' and datname = 'ticked_$dbname_of{$file}'"
			),
			"$file: the in-server ticker served its first database");
	}
	is(worker_pids($node, "unticked_$dbname_of{$file}"),
		'', "$file: no ticker served its second database");
}

$node->stop;
done_testing();
