# scripts/common.sh's install_deps, run as root by test/run and test/package/run, stops the
# main cluster only when it has just installed PostgreSQL (Debian starts one on install): a main
# cluster that was there before is someone's server, and the package test promises to leave the
# host as it was.  Run with stand-ins for id, dpkg-query, apt-get and pg_ctlcluster on PATH, which
# record what would have been done; nothing on this machine is touched.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $top = abs_path(dirname(__FILE__) . '/../..');
my $bin = tempdir(CLEANUP => 1);
my $calls = "$bin/calls";

sub stand_in
{
	my ($name, $body) = @_;
	open my $fh, '>', "$bin/$name" or die $!;
	print $fh "#!/bin/sh\necho \"$name \$*\" >>$calls\n$body\n";
	close $fh;
	chmod 0755, "$bin/$name" or die $!;
}
stand_in('id', 'echo 0');
stand_in('dpkg-query', '[ -e ' . $bin . '/installed ] && printf "install ok installed"; exit 0');
stand_in('apt-get', ': >' . $bin . '/installed');
stand_in('pg_ctlcluster', 'exit 0');

# install_deps with the packages present or not; returns the pg_ctlcluster calls made
sub install_deps
{
	my ($present) = @_;
	unlink $calls;
	if ($present) { open my $fh, '>', "$bin/installed" or die $!; close $fh; }
	else { unlink "$bin/installed"; }
	my $out;
	local %ENV = (%ENV, PATH => "$bin:$ENV{PATH}", CRMPOOL_PG => '15');
	IPC::Run::run([ 'bash', '-c', 'source "$1"/scripts/common.sh && install_deps', 'x', $top ],
		'>', \$out, '2>&1') or die "install_deps failed: $out";
	return join "\n", grep { /^pg_ctlcluster/ } split /\n/, (-e $calls ? slurp_file($calls) : '');
}

is(install_deps(1), '', 'PostgreSQL there already: no cluster is stopped');
is(install_deps(0), 'pg_ctlcluster 15 main stop', 'PostgreSQL just installed: the main cluster it started is stopped');

done_testing();
