# crmpool's background worker: it recycles and warns with no manual call, serves a database
# listed before it exists (quietly), shows in pg_stat_activity, and takes a new naptime on SIGHUP.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'crmpool'
crmpool.worker_databases = 'crm, later'
crmpool.worker_naptime = 1
crmpool.fake_now = '2026-01-01 09:00+00'
timezone = 'UTC'
log_min_messages = debug1
});
$node->start;
my $log_start = -s $node->logfile;

# Move crmpool's clock for every session and the worker.
sub set_clock
{
	my ($at) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET crmpool.fake_now = '$at'; SELECT pg_reload_conf();");
}

# Change the naptime and wait until the launcher, on SIGHUP, says it waits that long.
sub set_naptime
{
	my ($value, $seconds) = @_;
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET crmpool.worker_naptime = $value; SELECT pg_reload_conf();");
	$node->poll_query_until('postgres', qq{
		SELECT query LIKE '%naptime $seconds s%' FROM pg_stat_activity
		WHERE backend_type = 'crmpool launcher'})
	  or die "the launcher did not take naptime $value";
}

# crmpool and a managed table of n pool customers, recycled 30 days after the last follow-up.
sub setup_db
{
	my ($db, $n) = @_;
	$node->safe_psql($db, qq{
		CREATE EXTENSION crmpool;
		CREATE TABLE customer (id bigint PRIMARY KEY, owner bigint);
		INSERT INTO customer SELECT g, NULL FROM generate_series(1, $n) g;
		SELECT crmpool.manage('customer', 'owner');
		SELECT crmpool.set_rules('customer', '{"recycle_no_followup": "30 days", "warn_before": "3 days"}');
	});
}

# The postmaster starts the launcher once it accepts connections, which is when pg_ctl -w
# returns: on a loaded machine the launcher may not be there yet, so wait for it (one, not more).
ok($node->poll_query_until('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'crmpool launcher'", '1'),
	'the launcher shows in pg_stat_activity');

$node->safe_psql('postgres', 'CREATE DATABASE crm');
setup_db('crm', 10);
$node->safe_psql('crm', q{
	SELECT crmpool.claim('customer', g, 7) FROM generate_series(1, 5) g;
	SET crmpool.fake_now = '2026-01-04 09:00+00';
	SELECT crmpool.claim('customer', g, 8) FROM generate_series(6, 10) g;
});

# Feb 1 12:00: customers 1-5 (due Jan 31) are recycled, 6-10 (due Feb 3) warned.
set_clock('2026-02-01 12:00+00');
$node->poll_query_until('crm', q{
	SELECT count(*) FILTER (WHERE owner IS NULL) = 5
	   AND (SELECT count(*) FROM crmpool.recycle_warnings('customer')) = 5
	FROM customer})
  or die 'the worker did not recycle and warn';
is($node->safe_psql('crm', q{
	SELECT string_agg(DISTINCT l.how || ' by ' || l.actor, ', ')
	FROM customer c, crmpool.ownership_log('customer', c.id) l
	WHERE c.owner IS NULL AND l.owner IS NULL AND l.how <> 'adopt'}),
	'no_followup by crmpool', 'recycled by rule no_followup, actor crmpool');
is($node->safe_psql('crm', q{
	SELECT string_agg(customer::text, ',' ORDER BY customer) FROM crmpool.recycle_warnings('customer')}),
	'6,7,8,9,10', 'owners of customers 6-10 warned');
is($node->safe_psql('crm', 'SELECT rep, owned FROM crmpool.rep_load(\'customer\') ORDER BY rep'),
	"7|0\n8|5", 'counters follow');

# A database listed before it exists, then without crmpool, is served once both are there;
# meanwhile each round passes it over with no more than a DEBUG message.
$node->wait_for_log(qr/database "later" does not exist or takes no connections/, $log_start);
$node->safe_psql('postgres', 'CREATE DATABASE later');
$node->wait_for_log(qr/no crmpool extension in database "later" yet/, $log_start);
setup_db('later', 3);
$node->safe_psql('later', q{
	SET crmpool.fake_now = '2025-12-01 09:00+00';
	SELECT crmpool.claim('customer', g, 9) FROM generate_series(1, 3) g;
});
$node->poll_query_until('later', 'SELECT count(*) = 3 FROM customer WHERE owner IS NULL')
  or die 'the worker did not serve database "later"';
pass('a database listed before it existed is served');
unlike(slurp_file($node->logfile, $log_start), qr/(ERROR|FATAL|WARNING):/,
	'no error, warning or failure logged for it meanwhile');

# SIGHUP: a long naptime is taken at once (the launcher says so) ...
set_naptime("'1h'", 3600);
pass('SIGHUP: the launcher waits 3600 s now');
# ... and so is a short one: customers 6-10, due since Feb 3, are recycled within seconds,
# not an hour.
set_clock('2026-02-05 12:00+00');
$node->safe_psql('postgres',
	"ALTER SYSTEM SET crmpool.worker_naptime = 1; SELECT pg_reload_conf();");
$node->poll_query_until('crm', 'SELECT count(*) = 10 FROM customer WHERE owner IS NULL')
  or die 'the worker did not take the short naptime';
pass('SIGHUP: a shorter naptime starts the next round at once');

# naptime 0 turns the worker off; the launcher stays, idle.
set_naptime(0, 0);
pass('naptime 0: the launcher idles');

$node->stop;
done_testing();
