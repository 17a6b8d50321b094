# A logical-replication subscriber of a managed table (docs/reference.md, "On a
# logical-replication subscriber").  The apply worker runs with session_replication_role =
# replica, so crmpool's triggers, enabled the ordinary way, do not fire there: check() shows the
# drift and repair() fixes it.  Both recommended setups keep the subscriber in step:
#   1. the table together with crmpool's tables, triggers left as they are: the bookkeeping is
#      the publisher's (database "two");
#   2. the table alone, with crmpool's triggers ENABLE ALWAYS and crmpool.direct_writes = allow
#      for the subscription's owner: the subscriber keeps its own bookkeeping (database "one";
#      the apply worker fires no statement triggers, so crmpool applies each row at once).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pub = PostgreSQL::Test::Cluster->new('pub');
$pub->init(allows_streaming => 'logical');
$pub->append_conf('postgresql.conf', "shared_preload_libraries = 'crmpool'");
$pub->start;
my $sub = PostgreSQL::Test::Cluster->new('sub');
$sub->init;
$sub->append_conf('postgresql.conf', "shared_preload_libraries = 'crmpool'");
$sub->start;

my $table = q{CREATE TABLE customers (id bigint PRIMARY KEY, rep int, deal boolean NOT NULL DEFAULT false)};
for my $db ('one', 'two')
{
	$pub->safe_psql('postgres', "CREATE DATABASE $db");
	$sub->safe_psql('postgres', "CREATE DATABASE $db");
	$pub->safe_psql($db, qq{CREATE EXTENSION crmpool; $table;
		INSERT INTO customers SELECT g, CASE WHEN g <= 3 THEN 5 END FROM generate_series(1, 20) g;
		SELECT crmpool.manage('customers', 'rep', deal_column => 'deal');
		SELECT crmpool.set_rules('customers', '{"private_cap": 4}');});
	$sub->safe_psql($db, qq{CREATE EXTENSION crmpool; $table;});
}

sub synced
{
	my ($db) = @_;
	$sub->poll_query_until($db,
		q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')})
	  or die "initial sync of $db did not finish";
}

# Ownership changes on the publisher, through every path.
sub writes
{
	my ($db, $base) = @_;
	$pub->safe_psql($db, qq{
		SELECT crmpool.claim('customers', $base + 1, 6);
		SELECT crmpool.claim('customers', $base + 2, 6);
		SELECT crmpool.release('customers', 1, 5, 'no answer') WHERE $base = 10;
		SELECT crmpool.transfer('customers', $base + 2, 6, 7);
		UPDATE customers SET deal = true WHERE id = $base + 1;
		INSERT INTO customers VALUES ($base + 100, 8, false);
		DELETE FROM customers WHERE id = $base + 3;});
	$pub->wait_for_catchup($db);
}

my $counts = q{SELECT rep, owned, with_deal FROM crmpool.rep_load('customers') WHERE owned > 0 ORDER BY rep};
my $table_counts = q{SELECT rep, count(*), count(*) FILTER (WHERE deal) FROM customers
	WHERE rep IS NOT NULL GROUP BY rep ORDER BY rep};

# --- Setup 2: the table alone.  First as crmpool is installed: the triggers stay silent. ---
$sub->safe_psql('one', q{SELECT crmpool.manage('customers', 'rep', deal_column => 'deal')});
$pub->safe_psql('one', q{CREATE PUBLICATION p FOR TABLE customers});
my $pubconn = $pub->connstr . ' dbname=one';
$sub->safe_psql('one', qq{CREATE SUBSCRIPTION one CONNECTION '$pubconn' PUBLICATION p});
synced('one');
writes('one', 10);
is($sub->safe_psql('one', q{SELECT count(*) FROM customers WHERE rep IS NOT NULL}), '5',
	'the changes arrived');
isnt($sub->safe_psql('one', q{SELECT count(*) FROM crmpool.check('customers')}), '0',
	'with triggers firing on origin only, the subscriber drifts and check() says so');

# The recommended setting, then one repair of what came before it.
$sub->safe_psql('one', q{
	ALTER TABLE customers ENABLE ALWAYS TRIGGER crmpool_ownership_row;
	ALTER TABLE customers ENABLE ALWAYS TRIGGER crmpool_ownership_update;
	ALTER TABLE customers ENABLE ALWAYS TRIGGER crmpool_ownership_stmt;
	ALTER TABLE customers ENABLE ALWAYS TRIGGER crmpool_ownership_truncate;
	ALTER ROLE CURRENT_USER SET crmpool.direct_writes = allow;
	-- a rule the publisher does not have: the apply worker must not refuse what it accepted
	SELECT crmpool.set_rules('customers', '{"private_cap": 1}');});
# the apply worker reads role settings when it starts
$sub->safe_psql('one', q{ALTER SUBSCRIPTION one DISABLE});
$sub->safe_psql('one', q{SELECT count(*) FROM crmpool.repair('customers')});
$sub->safe_psql('one', q{ALTER SUBSCRIPTION one ENABLE});
is($sub->safe_psql('one', q{SELECT count(*) FROM crmpool.check('customers')}), '0',
	'repair brings the subscriber in step');
writes('one', 14);
$pub->safe_psql('one', q{TRUNCATE customers; INSERT INTO customers VALUES (1, 5, false), (2, 5, true)});
$pub->wait_for_catchup('one');
is($sub->safe_psql('one', q{SELECT count(*) FROM crmpool.check('customers')}), '0',
	'with ENABLE ALWAYS triggers and direct_writes = allow the subscriber stays in step');
is($sub->safe_psql('one', $counts), $sub->safe_psql('one', $table_counts),
	'its counters are the table\'s counts');
is($sub->safe_psql('one', $counts), $pub->safe_psql('one', $counts),
	'and the publisher\'s counters');
is($sub->safe_psql('one', q{SELECT how FROM crmpool.ownership_log('customers', 2) ORDER BY seq DESC LIMIT 1}),
	'insert', 'the subscriber records what it applied');
$sub->safe_psql('one', q{ALTER ROLE CURRENT_USER RESET crmpool.direct_writes});

# --- Setup 1: the table and crmpool's tables, triggers as they are (origin only). ---
# The subscriber has the table's triggers (as a schema-only dump brings them), not manage().
$sub->safe_psql('two', q{
	CREATE TRIGGER crmpool_ownership_row AFTER INSERT OR DELETE ON customers
		FOR EACH ROW EXECUTE FUNCTION crmpool.ownership_trigger();
	CREATE TRIGGER crmpool_ownership_update AFTER UPDATE ON customers
		FOR EACH ROW EXECUTE FUNCTION crmpool.ownership_trigger();
	CREATE TRIGGER crmpool_ownership_truncate AFTER TRUNCATE ON customers
		FOR EACH STATEMENT EXECUTE FUNCTION crmpool.ownership_trigger();
	CREATE TRIGGER crmpool_ownership_stmt AFTER INSERT OR UPDATE OR DELETE ON customers
		FOR EACH STATEMENT EXECUTE FUNCTION crmpool.ownership_trigger();});
$pub->safe_psql('two', q{CREATE PUBLICATION p FOR TABLE customers, crmpool.managed_table,
	crmpool.rule_set, crmpool.rep_counter, crmpool.ownership_event, crmpool.customer_lock,
	crmpool.recycle_due, crmpool.recycle_warning, crmpool.followup, crmpool.identity_config,
	crmpool.identity_key, crmpool.identity_name, crmpool.duplicate_warning});
$pubconn = $pub->connstr . ' dbname=two';
$sub->safe_psql('two', qq{CREATE SUBSCRIPTION two CONNECTION '$pubconn' PUBLICATION p});
synced('two');
writes('two', 10);
$pub->safe_psql('two', q{SELECT crmpool.lock('customers', 11, 6)});
$pub->wait_for_catchup('two');
is($sub->safe_psql('two', q{SELECT count(*) FROM crmpool.check('customers')}), '0',
	'with crmpool\'s tables replicated the subscriber is in step');
is($sub->safe_psql('two', q{SELECT rel::text FROM crmpool.managed_table}), 'customers',
	'the regclass names the subscriber\'s own table');
is($sub->safe_psql('two', q{SELECT * FROM crmpool.rep_load('customers')}),
	$pub->safe_psql('two', q{SELECT * FROM crmpool.rep_load('customers')}),
	'the subscriber\'s counters are the publisher\'s, claims and locks included');
is($sub->safe_psql('two', q{SELECT string_agg(how || coalesce(':' || reason, ''), ',' ORDER BY seq)
	FROM crmpool.ownership_log('customers', 1)}), 'adopt,release:no answer',
	'and so is the history');

done_testing();
