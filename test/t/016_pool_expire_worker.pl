# Pool cleaning (pool_expire, pool_expire_to) by crmpool's background worker, with no manual
# call: customers unclaimed too long move to the archive pool, never deleted, and the worker's
# LOG line counts them (docs/reference.md, "Pools").
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('pool_expire');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'crmpool'
crmpool.worker_databases = 'crm'
crmpool.worker_naptime = 1
crmpool.fake_now = '2026-01-01 09:00+00'
timezone = 'UTC'
});
$node->start;
my $log_start = -s $node->logfile;

$node->safe_psql('postgres', 'CREATE DATABASE crm');
$node->safe_psql('crm', q{
	CREATE EXTENSION crmpool;
	CREATE TABLE customer (id bigint PRIMARY KEY, owner bigint, pool text);
	INSERT INTO customer SELECT g, CASE WHEN g = 1 THEN 7 END, 'east' FROM generate_series(1, 6) g;
	SELECT crmpool.manage('customer', 'owner', pool_column => 'pool');
	SELECT crmpool.create_pool('customer', 'archive');
	SELECT crmpool.set_rules('customer', '{"pool_expire": "30 days", "pool_expire_to": "archive"}', pool => 'east');
});

# Feb 1: the five pool customers of east sat there 31 days; the owned one stays
$node->safe_psql('postgres', "ALTER SYSTEM SET crmpool.fake_now = '2026-02-01 09:00+00'; SELECT pg_reload_conf();");
$node->poll_query_until('crm', q{SELECT count(*) = 5 FROM customer WHERE pool = 'archive'})
  or die 'the worker did not clean the pool';
is($node->safe_psql('crm', q{SELECT string_agg(id || ':' || coalesce(owner::text, '-') || ':' || pool, ',' ORDER BY id) FROM customer}),
	'1:7:east,2:-:archive,3:-:archive,4:-:archive,5:-:archive,6:-:archive',
	'unclaimed customers moved to the archive pool, none deleted, the owned one stays');
is($node->safe_psql('crm', q{
	SELECT string_agg(DISTINCT l.how || ' by ' || l.actor || ' ' || l.reason, ', ')
	FROM customer c, crmpool.ownership_log('customer', c.id) l WHERE l.how <> 'adopt'}),
	'pool_expire by crmpool to pool "archive"', 'each move is in the history');
ok($node->wait_for_log(qr/crmpool moved 5 customers of table customer that sat in their pool longer than pool_expire/, $log_start),
	'the worker logs how many it moved');

$node->stop;
done_testing();
