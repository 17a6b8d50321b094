# Crash safety: the worker killed with SIGKILL mid-batch, and the server stopped in immediate
# mode mid-batch.  After the restart no customer is half-recycled (owner NULL with its spell
# open, a counter off, a due row left), committed batches stay, and the next run finishes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $batch = 5;
my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'crmpool'
crmpool.worker_databases = 'postgres'
crmpool.worker_naptime = 1
crmpool.recycle_batch_size = $batch
crmpool.fake_now = '2026-01-01 09:00+00'
restart_after_crash = on
});
$node->start;

# Each recycle waits a little in a trigger of the app's, so that a batch takes a while.
$node->safe_psql('postgres', q{
	CREATE EXTENSION crmpool;
	CREATE TABLE customer (id bigint PRIMARY KEY, owner bigint);
	INSERT INTO customer SELECT g, NULL FROM generate_series(1, 60) g;
	SELECT crmpool.manage('customer', 'owner');
	SELECT crmpool.set_rules('customer', '{"recycle_no_followup": "30 days"}');
	CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$;
	CREATE TRIGGER slow AFTER UPDATE OF owner ON customer
		FOR EACH ROW WHEN (NEW.owner IS NULL) EXECUTE FUNCTION slow();
});

# The bookkeeping agrees with the table, whatever committed.
sub check_consistent
{
	my ($what) = @_;
	is($node->safe_psql('postgres', q{
		SELECT
		  (SELECT count(*) FROM customer c
		    WHERE c.owner IS DISTINCT FROM (SELECT e.owner FROM crmpool.ownership_event e
		      WHERE e.tenant = 0 AND e.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customer'::regclass) AND e.customer = c.id ORDER BY e.seq DESC LIMIT 1))
		  || ' ' ||
		  (SELECT count(*) FROM crmpool.rep_counter r
		    WHERE r.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customer'::regclass)
		      AND r.owned <> (SELECT count(*) FROM customer c WHERE c.owner = r.rep))
		  || ' ' ||
		  (SELECT count(*) FROM customer c
		    WHERE (c.owner IS NOT NULL) <> EXISTS (SELECT FROM crmpool.recycle_due d
		      WHERE d.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customer'::regclass) AND d.customer = c.id))
		  || ' ' ||
		  (SELECT count(*) FROM customer WHERE owner IS NULL AND id <= 60) % } . $batch),
		'0 0 0 0', "$what: spells, counters, due rows agree; only whole batches committed");
}

# Claim customers $from..$to at $claimed, then move the clock past their due time.
sub make_due
{
	my ($from, $to, $claimed, $now) = @_;
	$node->safe_psql('postgres', qq{
		SET crmpool.fake_now = '$claimed';
		SELECT crmpool.claim('customer', g, 7 + g % 3) FROM generate_series($from, $to) g;
		ALTER SYSTEM SET crmpool.fake_now = '$now';
		SELECT pg_reload_conf();
	});
}

# Wait until at least one batch of $from..$to committed and the worker is inside another.
sub wait_mid_batch
{
	my ($from, $to) = @_;
	$node->poll_query_until('postgres', qq{
		SELECT count(*) >= $batch AND count(*) < ($to - $from + 1)
		   AND EXISTS (SELECT FROM pg_stat_activity
		               WHERE backend_type = 'crmpool worker' AND wait_event = 'PgSleep')
		FROM customer WHERE owner IS NULL AND id BETWEEN $from AND $to})
	  or die 'the worker never was mid-batch';
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'crmpool worker'");
}

sub wait_all_recycled
{
	my ($to) = @_;
	$node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM customer WHERE owner IS NOT NULL AND id <= $to")
	  or die 'the next run did not finish the work';
}

# 1. SIGKILL of the worker mid-batch: the postmaster restarts every process.
make_due(1, 30, '2026-01-01 09:00+00', '2026-03-01 09:00+00');
my $pid = wait_mid_batch(1, 30);
kill 'KILL', $pid;
$node->poll_query_until('postgres', 'SELECT true') or die 'the server did not come back';
check_consistent('after SIGKILL');
wait_all_recycled(30);
check_consistent('after the next run');

# 2. Immediate shutdown mid-batch, then a start.
make_due(31, 60, '2026-02-01 09:00+00', '2026-04-01 09:00+00');
wait_mid_batch(31, 60);
$node->stop('immediate');
$node->start;
check_consistent('after an immediate stop');
wait_all_recycled(60);
check_consistent('after the next run');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM customer c
	WHERE (SELECT count(*) FROM crmpool.ownership_log('customer', c.id) l
	       WHERE l.how = 'no_followup') <> 1}),
	'0', 'every customer recycled exactly once');

$node->stop;
done_testing();
