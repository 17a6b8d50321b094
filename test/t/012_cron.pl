# Scheduling through pg_cron: crmpool.schedule() registers (and reschedules) one named job in
# this database, its command does the maintenance, crmpool.unschedule() removes it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'crmpool,pg_cron'
cron.database_name = 'postgres'
crmpool.fake_now = '2026-01-01 09:00+00'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_cron;
	CREATE EXTENSION crmpool;
	CREATE TABLE customer (id bigint PRIMARY KEY, owner bigint);
	INSERT INTO customer SELECT g, NULL FROM generate_series(1, 4) g;
	SELECT crmpool.manage('customer', 'owner');
	SELECT crmpool.set_rules('customer', '{"recycle_no_followup": "30 days"}');
	SELECT crmpool.claim('customer', g, 7) FROM generate_series(1, 4) g;
});

my $job = $node->safe_psql('postgres', 'SELECT crmpool.schedule()');
like($job, qr/^\d+$/, 'schedule() returns the job id');
is($node->safe_psql('postgres', q{
	SELECT jobname || '|' || schedule || '|' || command || '|' || database FROM cron.job}),
	'crmpool-maintenance|*/5 * * * *|CALL crmpool.recycle()|postgres', 'the job is registered');
is($node->safe_psql('postgres', q{SELECT crmpool.schedule('0 3 * * *')}), $job,
	'scheduling again keeps the one job');
is($node->safe_psql('postgres', 'SELECT count(*) || schedule FROM cron.job GROUP BY schedule'),
	'10 3 * * *', 'with the new schedule');

# What pg_cron runs, run here once with time passed.
my $command = $node->safe_psql('postgres', 'SELECT command FROM cron.job');
$node->safe_psql('postgres', "SET crmpool.fake_now = '2026-03-01 09:00+00'; $command");
is($node->safe_psql('postgres', 'SELECT count(*) FROM customer WHERE owner IS NULL'), '4',
	'the job command recycles');

is($node->safe_psql('postgres', 'SELECT crmpool.unschedule()'), 't', 'unschedule() removes it');
is($node->safe_psql('postgres', 'SELECT count(*) FROM cron.job'), '0', 'no job left');
is($node->safe_psql('postgres', 'SELECT crmpool.unschedule()'), 'f', 'unschedule() again: nothing');

$node->stop;
done_testing();
