# pg_dump / pg_restore keeps a managed table's configuration, rules, counters, locks and
# history, and the restored database enforces the same rules.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'crmpool'");
$node->start;

$node->safe_psql('postgres', q{
	CREATE DATABASE src;
});
$node->safe_psql('src', q{
	CREATE EXTENSION crmpool;
	CREATE SCHEMA "Sales";
	CREATE TABLE "Sales"."Customers" (id bigint PRIMARY KEY, name text, "Owner" int, pool text);
	INSERT INTO "Sales"."Customers" SELECT g, 'c' || g, CASE WHEN g <= 2 THEN 5 END, 'east'
	FROM generate_series(1, 20) g;
	SELECT crmpool.manage('"Sales"."Customers"', 'Owner', pool_column => 'pool');
	SELECT crmpool.set_rules('"Sales"."Customers"', '{"private_cap": 4, "lock_cap": 1}');
	SELECT crmpool.set_rules('"Sales"."Customers"', '{"private_cap": 6}', pool => 'east', rep => 6);
	SELECT crmpool.claim('"Sales"."Customers"', 3, 5);
	SELECT crmpool.lock('"Sales"."Customers"', 3, 5);
	SELECT crmpool.claim('"Sales"."Customers"', 4, 6);
	SELECT crmpool.release('"Sales"."Customers"', 4, 6, 'wrong contact');
});

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('dst'), $dump ], 'pg_restore');

my $q = sub { $node->safe_psql($_[0], $_[1]) };
for my $check (
	[ 'managed tables', q{SELECT rel, key_column, owner_column, pool_column FROM crmpool.managed_tables} ],
	[ 'rules', q{SELECT pool, rep, rules FROM crmpool.rule_set ORDER BY pool NULLS FIRST, rep} ],
	[ 'counters', q{SELECT * FROM crmpool.rep_load('"Sales"."Customers"')} ],
	[ 'locks', q{SELECT customer, rep FROM crmpool.customer_lock} ],
	[ 'history', q{SELECT customer, owner, how, actor, reason FROM crmpool.ownership_event ORDER BY seq} ],
	[ 'triggers', q{SELECT tgname FROM pg_trigger WHERE tgrelid = '"Sales"."Customers"'::regclass ORDER BY 1} ])
{
	is($q->('dst', $check->[1]), $q->('src', $check->[1]), "restored $check->[0] equal the original");
}

# The restored database enforces the same rules and continues the same history.
my ($ret, $out, $err) = $node->psql('dst', q{SELECT crmpool.release('"Sales"."Customers"', 3, 5)});
like($err, qr/customer 3 is locked/, 'restored lock still stops a release');
($ret, $out, $err) = $node->psql('dst', q{SELECT crmpool.claim('"Sales"."Customers"', 5, 5);
	SELECT crmpool.claim('"Sales"."Customers"', 6, 5)});
like($err, qr/rep 5 has reached the private cap/, 'restored rules and counters still cap the rep');
$q->('dst', q{SELECT crmpool.claim('"Sales"."Customers"', 7, 6)});
is($q->('dst', q{SELECT count(*) FROM crmpool.ownership_event e1 JOIN crmpool.ownership_event e2
	ON e1.seq = e2.seq AND e1.ctid <> e2.ctid}), '0', 'event numbers continue without collision');
is($q->('dst', q{SELECT string_agg(how_gained || ':' || coalesce(how_ended, '-'), ',')
	FROM crmpool.history('"Sales"."Customers"', 4)}), 'claim:release', 'history readable after restore');

$node->stop;
done_testing();
