# crmpool's messages in Simplified Chinese (po/zh_CN.po), PostgreSQL's NLS:
#  - po/zh_CN.po matches the code: no msgid the code no longer has, no refusal message left
#    untranslated, and every refusal fills its error fields (scripts/check_messages.pl against
#    xgettext's catalog of this build's sources); the check fails on a catalog or a source that
#    breaks a rule;
#  - the catalog is installed where the server looks for crmpool's domain;
#  - with lc_messages = 'zh_CN.UTF-8' a refusal reads in Chinese, with its SQLSTATE and its
#    error fields unchanged, in a database whose LC_CTYPE is C (crmpool binds its domain to the
#    database's encoding); English stays the default.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $top = abs_path(dirname(__FILE__) . '/../..');
my $pg_config = `pg_config --bindir`;
chomp $pg_config;
$pg_config .= '/pg_config';

# xgettext's catalog of this build's sources, as `make update-po` makes it
{
	local %ENV = %ENV;
	delete @ENV{qw(MAKEFLAGS MAKELEVEL MFLAGS)};
	my ($out, $err);
	IPC::Run::run([ 'make', '-s', '-B', '-C', $top, "PG_CONFIG=$pg_config", 'po/crmpool.pot' ],
		'>', \$out, '2>', \$err)
	  or die "make po/crmpool.pot: $out$err";
}

sub check_messages
{
	my ($po, $src) = @_;
	my ($out, $err);
	my $ok = IPC::Run::run([ 'perl', "$top/scripts/check_messages.pl", $src // $top, "$top/po/crmpool.pot", $po ],
		'>', \$out, '2>', \$err);
	return ($ok, $out . $err);
}

my ($ok, $out) = check_messages("$top/po/zh_CN.po");
ok($ok, 'po/zh_CN.po matches the messages of the code') or diag $out;
like($out, qr/checked (\d+) refusal messages/, 'and it checked the refusals');
my ($nref) = $out =~ /checked (\d+) refusal messages/;
cmp_ok($nref, '>=', 40, "refusal messages found in the code ($nref)");
unlike($out, qr/note: untranslated/, 'every message of the code is translated') or diag $out;

# a catalog with a stale msgid and a refusal left untranslated fails, naming both
my $dir = tempdir(CLEANUP => 1);
my $po = slurp_file("$top/po/zh_CN.po");
$po =~ s/^msgstr "销售 %lld 已达到私海上限"$/msgstr ""/m or die 'no private cap message in zh_CN.po';
$po .= qq{\nmsgid "a message the code no longer has"\nmsgstr "代码里已经没有的消息"\n};
open my $fh, '>', "$dir/zh_CN.po" or die $!;
print $fh $po;
close $fh;
($ok, $out) = check_messages("$dir/zh_CN.po");
ok(!$ok, 'a stale or incomplete catalog fails');
like($out, qr/stale: msgid "a message the code no longer has"/, 'naming the stale msgid');
like($out, qr/untranslated refusal message \(src\/trigger\/ownership\.c:\d+\): "rep %lld has reached the private cap"/,
	'and the untranslated refusal with its place');

# a refusal that leaves out crmpool_refusal() fails, naming its place
my $src = tempdir(CLEANUP => 1);
system('cp', '-a', "$top/src", "$src/src") == 0 or die "cp: $?";
my $c = slurp_file("$src/src/trigger/ownership.c");
$c =~ s/,\s*crmpool_refusal\(mr->relid, lock_column\(mr\), "lock_blocks",[^;]*?\)\)\);/));/s
  or die 'no refusal "lock_blocks" in ownership.c';
open $fh, '>', "$src/src/trigger/ownership.c" or die $!;
print $fh $c;
close $fh;
($ok, $out) = check_messages("$top/po/zh_CN.po", $src);
ok(!$ok, 'a refusal without crmpool_refusal() fails');
like($out, qr{src/trigger/ownership\.c:\d+: a refusal \(ERRCODE_CRMPOOL_\*\) without crmpool_refusal\(\)},
	'naming its place');

# installed as <localedir>/zh_CN/LC_MESSAGES/crmpool-<major>.mo
my $localedir = `$pg_config --localedir`;
chomp $localedir;
my ($major) = `$pg_config --version` =~ /PostgreSQL (\d+)/;
ok(-f "$localedir/zh_CN/LC_MESSAGES/crmpool-$major.mo", "crmpool-$major.mo is installed in $localedir");

my $has_locale = grep { /^zh_CN\.utf-?8$/i } split /\n/, `locale -a`;
ok($has_locale, 'the zh_CN.UTF-8 locale exists (test/run generates it: scripts/common.sh)');

SKIP:
{
	skip 'no zh_CN.UTF-8 locale', 9 unless $has_locale;

	my $node = PostgreSQL::Test::Cluster->new('zh');
	$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'crmpool'");
	$node->start;
	$node->safe_psql('postgres', q{
CREATE EXTENSION crmpool;
CREATE TABLE customer (id bigint PRIMARY KEY, name text, owner_user_id bigint);
INSERT INTO customer SELECT g, 'c' || g FROM generate_series(1, 5) g;
SELECT crmpool.manage('customer', 'owner_user_id');
SELECT crmpool.set_rules('customer', '{"private_cap": 1}');
SELECT crmpool.claim('customer', 1, 7);
CREATE FUNCTION fields(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text; con text; typ text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
		con = CONSTRAINT_NAME, typ = PG_DATATYPE_NAME;
	RETURN concat_ws(' | ', st, msg, det, con, typ);
END $$;
});
	my $claim = q{SELECT fields($$SELECT crmpool.claim('customer', 2, 7)$$)};

	# English by default
	is($node->safe_psql('postgres', $claim),
		'CR006 | rep 7 has reached the private cap | Rep 7 owns 1 of 1 customers allowed in table customer. | private_cap | {"rep":7,"customer":2,"count":1,"limit":1}',
		'English by default');

	# Chinese with lc_messages; SQLSTATE and fields unchanged
	is($node->safe_psql('postgres', "SET lc_messages = 'zh_CN.UTF-8'; $claim"),
		'CR006 | 销售 7 已达到私海上限 | 销售 7 在表 customer 中已拥有 1 个客户，上限为 1 个。 | private_cap | {"rep":7,"customer":2,"count":1,"limit":1}',
		'with lc_messages = zh_CN.UTF-8 the refusal reads in Chinese, SQLSTATE and fields unchanged');

	# what a client sees (psql): message, detail and hint
	my ($stdout, $stderr);
	$node->psql('postgres', "SET lc_messages = 'zh_CN.UTF-8'; SELECT crmpool.claim('customer', 3, 7);",
		stdout => \$stdout, stderr => \$stderr);
	like($stderr, qr/销售 7 已达到私海上限/, 'psql shows the Chinese message');
	like($stderr, qr/请先将一个客户放回公海，或用 crmpool\.set_rules\(\) 调高 private_cap。/,
		'and the Chinese hint');
	unlike($stderr, qr/\?\?/, 'no character lost to "?" under LC_CTYPE C');

	# a fragment put in through %s (_()) and a positional argument order
	like($node->psql_stderr_zh(q{SELECT crmpool.release('customer', 4, 7)}),
		qr/表 customer 的客户 4 在公海中。/, 'a detail with its arguments reordered');
	# a common input error
	like($node->psql_stderr_zh(q{SELECT crmpool.set_rules('customer', '{"privat_cap": 1}')}),
		qr/未知规则“privat_cap”/, 'bad input reads in Chinese too');
	like($node->psql_stderr_zh(q{SELECT crmpool.claim('customer', 99, 7)}),
		qr/表 customer 中不存在客户 99/, 'unknown customer');

	# back to English in the same session
	$node->psql('postgres', "SET lc_messages = 'zh_CN.UTF-8'; RESET lc_messages; SELECT crmpool.claim('customer', 3, 7);",
		stderr => \$stderr);
	like($stderr, qr/rep 7 has reached the private cap/, 'RESET lc_messages: English again');
	$node->stop;
}

done_testing();

package PostgreSQL::Test::Cluster;

# stderr of one statement run with lc_messages = 'zh_CN.UTF-8'
sub psql_stderr_zh
{
	my ($self, $sql) = @_;
	my ($stdout, $stderr);
	$self->psql('postgres', "SET lc_messages = 'zh_CN.UTF-8'; $sql;",
		stdout => \$stdout, stderr => \$stderr);
	return $stderr;
}
