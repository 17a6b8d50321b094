# The workload of bench/claim, small and short: its three pgbench scripts run concurrently
# without a single failure, and afterwards crmpool's books agree with the tables (as do the
# PL/pgSQL baseline's).  Keeps the benchmark honest: it measures claims that really happen.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $size    = 400;
my $pool_n  = 280;
my $clients = 4;
my $stride  = $pool_n / $clients;

my $node = PostgreSQL::Test::Cluster->new('bench');

# crmpool's counters equal the owned customers of bench.cust_b per rep, and the last event of
# every customer is its owner.
sub books_agree
{
	my ($when) = @_;

	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM crmpool.rep_counter r
		FULL JOIN (SELECT owner_id::bigint AS rep, count(*) AS n FROM bench.cust_b
				   WHERE owner_id IS NOT NULL GROUP BY 1) t ON t.rep = r.rep
		WHERE (r.table_id IS NULL OR r.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'bench.cust_b'::regclass))
		  AND r.owned IS DISTINCT FROM t.n AND (r.owned <> 0 OR t.n IS NOT NULL)}),
		'0', "$when: crmpool counters equal the owned customers per rep");
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM bench.cust_b c
		WHERE c.owner_id IS DISTINCT FROM
			(SELECT e.owner FROM crmpool.ownership_event e
			 WHERE e.tenant = 0 AND e.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'bench.cust_b'::regclass) AND e.customer = c.id
			 ORDER BY e.seq DESC LIMIT 1)}),
		'0', "$when: the last event of every customer is its owner");
	return;
}

$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'crmpool'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION crmpool');

my ($ret, $out, $err) = $node->psql('postgres', undef,
	extra_params => [ '-v', "size=$size", '-v', "pool_n=$pool_n", '-f', 'bench/claim_setup.sql' ]);
is($ret, 0, 'bench/claim_setup.sql loads') or diag($err);

$node->pgbench(
	"-n -M prepared -c $clients -j 2 -t 60 -D stride=$stride",
	0,
	[ qr{number of failed transactions: 0 \(0\.000%\)}, qr{SQL script 2: bench/claim_b\.pgbench} ],
	[ qr{^$} ],
	'the three bench scripts run concurrently without a failure',
	{},
	'-f', 'bench/claim_a.pgbench@1', '-f', 'bench/claim_b.pgbench@1', '-f', 'bench/claim_c.pgbench@1');

for my $t ('a', 'b', 'c')
{
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM bench.cust_$t WHERE id <= $pool_n AND owner_id IS NOT NULL"),
		'0', "every customer taken by script $t is back in the pool");
}

my $claims = $node->safe_psql('postgres',
	"SELECT count(*) FROM crmpool.ownership_event WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'bench.cust_b'::regclass) AND how = 'claim'");
cmp_ok($claims, '>', 0, 'crmpool recorded claims');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM crmpool.ownership_event WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'bench.cust_b'::regclass) AND how = 'release'"),
	$claims, 'as many releases as claims');

books_agree('after the bench scripts');

is($node->safe_psql('postgres', q{
	SELECT count(*) FROM bench.rep_counter_c r
	FULL JOIN (SELECT owner_id AS rep, count(*) AS n FROM bench.cust_c
			   WHERE owner_id IS NOT NULL GROUP BY 1) t ON t.rep = r.rep
	WHERE r.owned IS DISTINCT FROM t.n AND (r.owned <> 0 OR t.n IS NOT NULL)}),
	'0', 'the PL/pgSQL baseline counters equal its owned customers per rep');

is($node->safe_psql('postgres',
		"SELECT count(*) FROM bench.history_c WHERE how = 'claim'"),
	$node->safe_psql('postgres', "SELECT count(*) FROM bench.history_c WHERE how = 'release'"),
	'the baseline recorded as many releases as claims');

# Now every client claims for the same rep, on overlapping customers: the rep's counter row is
# contended on every claim and release (claim_many reports a customer taken by another client
# instead of failing; the direct release is checked as a release).
$node->pgbench(
	"-n -M prepared -c $clients -j 2 -t 100",
	0,
	[ qr{number of failed transactions: 0 \(0\.000%\)} ],
	[ qr{^$} ],
	'one rep claiming and releasing from four clients at once',
	{
		'001_one_rep' => qq{
\\set c random(1, 40)
SELECT count(*) FROM crmpool.claim_many('bench.cust_b', ARRAY[:c]::bigint[], 1000);
UPDATE bench.cust_b SET owner_id = NULL WHERE id = :c AND owner_id = 1000;
}
	});

cmp_ok($node->safe_psql('postgres',
		"SELECT count(*) FROM crmpool.ownership_event WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'bench.cust_b'::regclass) AND owner = 1000"),
	'>', 0, 'the one rep claimed');
books_agree('after one rep\'s contended claims');

$node->stop;
done_testing();
