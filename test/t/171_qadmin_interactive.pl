# The qadmin console under a terminal (tmux): tab completion of keywords
# and of a queue name, the prompt with the default queue, statements over
# several lines, ^C clearing the line and cancelling a query, the history
# file written as statements run and read by the next session, and ^D.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use File::Spec;
use IPC::Run;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use QadminTest;
use Test::More;
use Time::HiRes qw(usleep);

my ($tmux) = grep { -x } map { File::Spec->catfile($_, 'tmux') } File::Spec->path;
plan skip_all => 'tmux is not installed (Debian package tmux)' unless $tmux;

my $node = preloaded_node('qadmin_tty');
my $dir  = PostgreSQL::Test::Utils::tempdir;
my $sock = "$dir/tmux.sock";
my $hist = "$dir/history";
$node->safe_psql('postgres', 'create database qa');
my ($rc, $out, $err) = qadmin($node, 'qa', '-c', 'install pgq; create queue tabqueue');
is($rc, 0, 'set-up through qadmin -c') or diag($err);

# the tmux server (and qadmin in it) must not outlive a failed test
END
{
	local $?;
	IPC::Run::run([ $tmux, '-S', $sock, 'kill-server' ], '<', \undef, '>', \my $o, '2>', \my $e)
	  if $tmux && $sock && -S $sock;
}

sub tmux
{
	my ($stdout, $stderr) = ('', '');
	IPC::Run::run([ $tmux, '-S', $sock, @_ ], '<', \undef, '>', \$stdout, '2>', \$stderr);
	return wantarray ? ($? >> 8, $stdout) : $stdout;
}

sub screen
{
	return scalar tmux('capture-pane', '-p', '-J');
}

# Wait until the screen matches $re; returns whether it did (on timeout
# the screen is shown).
sub wait_screen
{
	my ($re, $name) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		if (screen() =~ $re)
		{
			pass($name);
			return 1;
		}
		usleep(50_000);
	}
	fail($name);
	diag("screen:\n" . screen());
	return 0;
}

# Start qadmin in a new tmux session; its exit status goes to $dir/rc.
sub start_console
{
	unlink "$dir/rc";
	my $cmd = join ' ',
	  map { "'$_'" } ('env', "QADMIN_HISTFILE=$hist", $QADMIN,
		'-h', $node->host, '-p', $node->port, '-d', 'qa');
	tmux('new-session', '-d', '-x', '160', '-y', '50',
		"$cmd; echo \$? > '$dir/rc'");
	return;
}

sub wait_exit
{
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		return slurp_file("$dir/rc") =~ s/\s+//gr if -s "$dir/rc";
		usleep(50_000);
	}
	return 'still running';
}

sub press
{
	tmux('send-keys', @_);
	return;
}

# Type text; a ";" goes as its character code, because tmux reads an
# argument ending in ";" as the end of its own command.
sub type_text
{
	my ($text) = @_;
	foreach my $piece (split /(;)/, $text)
	{
		next if $piece eq '';
		if ($piece eq ';')
		{
			tmux('send-keys', '-H', '3b');
		}
		else
		{
			tmux('send-keys', '-l', $piece);
		}
	}
	return;
}

sub type_line
{
	my ($text) = @_;
	type_text($text);
	tmux('send-keys', 'Enter');
	return;
}

start_console();
wait_screen(qr/^\(noqueue\)\@qa> $/m, 'the prompt shows no queue and the database');

# keyword completion, then the queue name
press('sh', 'Tab');
wait_screen(qr/^\(noqueue\)\@qa> show $/m, 'a keyword completes at the start');
press('qu', 'Tab');
wait_screen(qr/^\(noqueue\)\@qa> show queue $/m, 'a keyword completes after show');
press('tabq', 'Tab');
wait_screen(qr/^\(noqueue\)\@qa> show queue tabqueue $/m, 'the queue name completes');
type_line(';');
wait_screen(qr/^Queue "tabqueue":\nqueue_name .*\n-+ .*\ntabqueue /m, 'the completed statement runs');

press('connect queue=tab', 'Tab');
wait_screen(qr/> connect queue=tabqueue $/m, 'a queue name completes after queue=');
type_line(';');
wait_screen(qr/^CONNECT\ntabqueue\@qa> $/m, 'the prompt shows the default queue');

# a statement over two lines
type_line('select 40 + 2');
wait_screen(qr/^tabqueue\@qa-> $/m, 'an unfinished statement gets the continuation prompt');
type_line('as answer;');
wait_screen(qr/^answer\n-+\n42\n/m, 'the two lines ran as one statement');

# ^C clears the line, and an unfinished statement
type_text('create queue not_wanted');
press('C-c');
type_line('select 1 as after_interrupt;');
wait_screen(qr/^after_interrupt\n/m, 'the console goes on after ^C');
is($node->safe_psql('qa', "select count(*) from pgq.queue where queue_name = 'not_wanted'"),
	'0', '^C dropped the typed line');
type_line('select 3');
wait_screen(qr/^tabqueue\@qa-> $/m, 'another unfinished statement');
press('C-c');
wait_screen(qr/^tabqueue\@qa> $/m, '^C ends the continuation');
type_line('select 4 as fresh;');
wait_screen(qr/^fresh\n-+\n4\n/m, 'the cleared lines are not part of the next statement');

# a failed connect keeps the connection
type_line('connect dbname=no_such_db;');
wait_screen(qr/^ERROR: could not connect: .*\nPrevious connection kept\.\ntabqueue\@qa> $/m,
	'a failed connect is reported');
type_line('select current_database() as db_after;');
wait_screen(qr/^db_after\n-+\nqa\n/m, 'the old connection is still in use');

# ^C cancels a running query
type_line('select pg_sleep(600);');
$node->poll_query_until('qa',
	"select count(*) = 1 from pg_stat_activity where query = 'select pg_sleep(600)' and state = 'active'")
  or die 'the query did not start';
press('C-c');
wait_screen(qr/ERROR: canceling statement due to user request/, '^C cancels the running query');
type_line('select 5 as still_connected;');
wait_screen(qr/^still_connected\n/m, 'the connection is usable after the cancel');

# ^D quits
press('C-d');
is(wait_exit(), '0', '^D quits with exit code 0');

# the history file has the statements that ran, one per line
my $history = -e $hist ? slurp_file($hist) : '';
like($history, qr/^show queue tabqueue;$/m, 'history holds a completed statement');
like($history, qr/^select 40 \+ 2 as answer;$/m, 'a statement of two lines is one history entry');
unlike($history, qr/not_wanted|^select 3/m, 'lines cleared with ^C are not in the history');

# the next session reads it back
start_console();
wait_screen(qr/^\(noqueue\)\@qa> $/m, 'a second session starts');
press('Up');
wait_screen(qr/^\(noqueue\)\@qa> select 5 as still_connected;$/m, 'the history is read at start');
press('C-u');
type_line('exit;');
is(wait_exit(), '0', 'exit; quits with exit code 0');

done_testing();
