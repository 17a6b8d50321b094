# Big statements: a 100,000-row UPDATE of the owner and a 100,000-row INSERT of owned customers
# stay within a generous memory bound (0.1 needed about 1.9 kB per row: 198 MB for the UPDATE),
# their bookkeeping is exact, and a subtransaction that fails with such a statement queued
# (its events partly in a temporary file) leaves nothing behind.  Memory is the backend's peak
# private memory, read from /proc (Linux); no timing is checked (bench/bulk measures time).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'needs /proc/self/status (Linux)' unless -r '/proc/self/status';

my $rows = 100000;
my $bound_mb = 64;

my $node = PostgreSQL::Test::Cluster->new('bulk');
$node->init;
# small shared buffers, so that the shared memory a backend touches stays small beside the bound
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'crmpool'
shared_buffers = 16MB
work_mem = 4MB
});
$node->start;

$node->safe_psql('postgres', qq{
	CREATE EXTENSION crmpool;
	CREATE TABLE customer (id bigint PRIMARY KEY, owner bigint, name text);
	INSERT INTO customer SELECT g, NULL, 'customer ' || g FROM generate_series(1, $rows) g;
	SELECT crmpool.manage('customer', 'owner');
});

# Peak private memory (MB) of a fresh backend that ran the statements: VmHWM counts the shared
# buffers it touched as well; RssShmem at the end (at least what it was at the peak) takes
# them back out.
sub peak_private_mb
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', qq{
		$sql
		SELECT (pg_catalog.substring(s, 'VmHWM:\\s+(\\d+)')::bigint
		        - pg_catalog.substring(s, 'RssShmem:\\s+(\\d+)')::bigint) / 1024
		FROM pg_catalog.pg_read_file('/proc/self/status') AS s;
	});
}

# Counters equal count(*), and every customer's last event names its owner.
sub check_books
{
	my ($what) = @_;
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM
			(SELECT owner AS rep, count(*) AS n FROM customer WHERE owner IS NOT NULL GROUP BY owner) t
			FULL JOIN (SELECT rep, owned FROM crmpool.rep_counter
			           WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customer'::regclass) AND owned > 0) c
			ON c.rep = t.rep
		WHERE c.owned IS DISTINCT FROM t.n}), '0', "$what: counters equal count(*)");
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM customer c
		LEFT JOIN LATERAL (SELECT e.owner FROM crmpool.ownership_event e
		                   WHERE e.tenant = 0 AND e.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customer'::regclass) AND e.customer = c.id
		                   ORDER BY e.seq DESC LIMIT 1) e ON true
		WHERE e.owner IS DISTINCT FROM c.owner}), '0', "$what: the last event of each customer names its owner");
}

my $idle = peak_private_mb('');
note "idle backend: $idle MB";

my $update = peak_private_mb("UPDATE customer SET owner = 1 + id % 100;");
note "UPDATE of $rows owners: $update MB";
cmp_ok($update, '<', $bound_mb, "UPDATE of $rows owners: peak private memory under $bound_mb MB");
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM crmpool.ownership_event WHERE how = 'update'}), $rows,
	"one event per changed row");
check_books('after the UPDATE');

my $insert = peak_private_mb(qq{
	INSERT INTO customer SELECT g, 1 + g % 50, 'customer ' || g
	FROM generate_series($rows + 1, 2 * $rows) g;});
note "INSERT of $rows owned customers: $insert MB";
cmp_ok($insert, '<', $bound_mb, "INSERT of $rows owned customers: peak private memory under $bound_mb MB");
check_books('after the INSERT');

# A statement that fails at its end (rep 1000's cap), its $rows changes queued, inside a
# subtransaction: the queue drops them, and the statements after it in the same transaction
# are recorded as if it had never run.
$node->safe_psql('postgres', q{SELECT crmpool.set_rules('customer', '{"private_cap": 5}', rep => 1000)});
my $events_before = $node->safe_psql('postgres', 'SELECT count(*) FROM crmpool.ownership_event');
my ($ret, $stdout, $stderr) = $node->psql('postgres', qq{
	BEGIN;
	UPDATE customer SET owner = NULL WHERE id <= 10;
	SAVEPOINT s;
	UPDATE customer SET owner = 1000 WHERE id > 10 AND id <= $rows;
	ROLLBACK TO s;
	UPDATE customer SET owner = 1001 WHERE id > 10 AND id <= $rows / 2;
	COMMIT;
}, on_error_stop => 0);
is($ret, 0, 'the transaction commits after the failed statement') or diag($stderr);
like($stderr, qr/rep 1000 has reached the private cap/, 'the statement failed on the cap');
is($node->safe_psql('postgres', 'SELECT count(*) FROM crmpool.ownership_event') - $events_before,
	10 + $rows / 2 - 10, 'only the events of the statements that stayed');
is($node->safe_psql('postgres', 'SELECT count(*) FROM customer WHERE owner = 1000'), '0',
	'rep 1000 owns nothing');
check_books('after the subtransaction');

$node->stop;
done_testing();
