# .ci/run's closing line counts every suite: one that fails, dies without its closing line or
# exits non-zero while it says 0 failed, and a root that cannot be built.  .ci/run is run as it
# is, in a copy of its tree where scripts/common.sh (dependencies, Debian roots) and the suites
# are stand-ins that fail on demand; no server, root or package is involved.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $top = abs_path(dirname(__FILE__) . '/../..');
my $tree = tempdir(CLEANUP => 1);
make_path("$tree/.ci", "$tree/scripts", "$tree/test/package");

sub put
{
	my ($path, $text) = @_;
	open my $fh, '>', "$tree/$path" or die "$path: $!";
	print $fh $text;
	close $fh;
}
put('.ci/run', slurp_file("$top/.ci/run"));
# common.sh sets -e for its callers, as the real one does
put('scripts/common.sh', <<'EOS');
set -euo pipefail
log() { printf '\n==> %s\n' "$*"; }
install_deps() { :; }
ensure_root() {
	case " ${FAIL_ROOT:-} " in *" $1 "*) echo "debootstrap failed"; false ;; esac
	echo "root $1 ready"
}
EOS
put('test/run', <<'EOS');
v=${CRMPOOL_PG:-15}
case " ${FAIL_SUITES:-} " in *" $v "*) echo "10 passed, 2 failed"; exit 1 ;; esac
case " ${DIE_SUITES:-} " in *" $v "*) echo "Segmentation fault"; exit 139 ;; esac
case " ${LIE_SUITES:-} " in *" $v "*) echo "100 passed, 0 failed"; exit 2 ;; esac
echo "100 passed, 0 failed"
EOS
put('test/package/run', "echo '5 passed, 0 failed'\n");

# .ci/run with these settings: (exit status, last line of its output)
sub ci
{
	my (%env) = @_;
	my $out;
	local %ENV = (%ENV, CRMPOOL_CI_LOGS => "$tree/logs", %env);
	my $ok = IPC::Run::run([ 'bash', "$tree/.ci/run" ], '>', \$out, '2>&1');
	my @lines = split /\n/, $out;
	return ($ok ? 0 : 1, $lines[-1] // '', $out);
}

my ($failed, $last, $out) = ci(CRMPOOL_CI_VERSIONS => '15 17 18');
is($last, '305 passed, 0 failed', 'all pass: every suite counted');
ok(!$failed, 'and CI passes');

for my $case (
	[ 'PostgreSQL 15 fails', { FAIL_SUITES => '15' }, '215 passed, 2 failed' ],
	[ 'PostgreSQL 17 fails', { FAIL_SUITES => '17' }, '215 passed, 2 failed' ],
	[ 'PostgreSQL 15 dies without a closing line', { DIE_SUITES => '15' }, '205 passed, 1 failed' ],
	[ 'PostgreSQL 18 exits 2 after "0 failed"', { LIE_SUITES => '18' }, '305 passed, 1 failed' ],
	[ "PostgreSQL 17's root cannot be built", { FAIL_ROOT => '17' }, '205 passed, 1 failed' ])
{
	my ($name, $env, $want) = @$case;
	($failed, $last, $out) = ci(CRMPOOL_CI_VERSIONS => '15 17 18', %$env);
	is($last, $want, "$name: the closing line counts it and every other suite")
	  or diag $out;
	ok($failed, "$name: CI fails");
}

($failed, $last, $out) = ci(CRMPOOL_CI_VERSIONS => '15');
is($last, '105 passed, 0 failed', 'CRMPOOL_CI_VERSIONS=15: the host suites only');
ok(!$failed, 'and CI passes');

done_testing();
