# Tables crmpool must refuse, or handle, where a regression test cannot reach:
#  - a temporary table managed under 0.1 leaves its rows behind when its session ends (no
#    sql_drop fires); every ordinary role's CALL crmpool.recycle() then failed.  The update to
#    0.2 removes such rows (and a run skips a table that no longer exists: table_kinds.sql).
#  - crmpool's event triggers fire under session_replication_role = replica too (ENABLE ALWAYS),
#    in an updated installation as in a fresh one.
#  - the background worker recycles the other tables when one fails, with a WARNING naming it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('tables');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'crmpool'
crmpool.worker_databases = 'crm'
crmpool.worker_naptime = 1
crmpool.fake_now = '2026-01-01 09:00+00'
timezone = 'UTC'
});
$node->start;

# --- 0.1: rows left behind by a table gone without sql_drop ------------------------------
# Under 0.1 a managed temporary table left them at the end of its session.  This .so refuses
# temporary tables even under 0.1's SQL, so the same rows are left here by a drop with the
# sql_drop event trigger disabled.
$node->safe_psql('postgres', q{
	CREATE EXTENSION crmpool VERSION '0.1';
	CREATE ROLE app LOGIN;
	GRANT CREATE ON SCHEMA public TO app;
});
my $app = ['-U', 'app'];
$node->safe_psql('postgres', q{
	CREATE TABLE kept (id int PRIMARY KEY, owner_id int);
	INSERT INTO kept VALUES (1, 7);
	SELECT crmpool.manage('kept', 'owner_id');
	CREATE TABLE scratch (id int PRIMARY KEY, owner_id int);
	INSERT INTO scratch VALUES (1, 7), (2, 8);
	SELECT crmpool.manage('scratch', 'owner_id');
}, extra_params => $app);
$node->safe_psql('postgres', q{
	ALTER EVENT TRIGGER crmpool_forget_dropped_tables DISABLE;
	DROP TABLE scratch;
	ALTER EVENT TRIGGER crmpool_forget_dropped_tables ENABLE;
});

# The rows a table leaves behind, over every table of crmpool's that names one: 0.1's name it
# by OID (rel), 0.2's state tables by the table_id of a managed_table row.
my $orphans = q{
	SELECT (SELECT count(*) FROM crmpool.managed_table t WHERE NOT EXISTS (SELECT FROM pg_class WHERE oid = t.rel))
	     + (SELECT count(*) FROM crmpool.ownership_event t WHERE NOT EXISTS (SELECT FROM pg_class WHERE oid = t.rel))
	     + (SELECT count(*) FROM crmpool.rep_counter t WHERE NOT EXISTS (SELECT FROM pg_class WHERE oid = t.rel))};
my $orphans_02 = q{
	SELECT (SELECT count(*) FROM crmpool.managed_table t WHERE NOT EXISTS (SELECT FROM pg_class WHERE oid = t.rel))
	     + (SELECT count(*) FROM crmpool.ownership_event t
			WHERE NOT EXISTS (SELECT FROM crmpool.managed_table m WHERE m.table_id = t.table_id))
	     + (SELECT count(*) FROM crmpool.rep_counter t
			WHERE NOT EXISTS (SELECT FROM crmpool.managed_table m WHERE m.table_id = t.table_id))};
is($node->safe_psql('postgres', $orphans), '5', '0.1: the dropped table left 5 rows behind');

$node->safe_psql('postgres', 'ALTER EXTENSION crmpool UPDATE');
is($node->safe_psql('postgres', $orphans_02), '0', 'the update removed them');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM crmpool.ownership_event WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'kept'::regclass)}),
	'1', 'the rows of a table that exists stay');
my ($ret, $out, $err) = $node->psql('postgres', 'CALL crmpool.recycle()', extra_params => $app);
is($ret, 0, 'CALL crmpool.recycle() works again for an ordinary role');
is($node->safe_psql('postgres', q{
	SELECT string_agg(evtname || ' ' || evtenabled::text, ', ' ORDER BY evtname) FROM pg_event_trigger
	WHERE evtname LIKE 'crmpool%'}),
	'crmpool_check_altered_table A, crmpool_forget_dropped_tables A',
	'the updated installation fires its event triggers always');

# ... and 0.2 refuses the temporary table in the first place.
($ret, $out, $err) = $node->psql('postgres', q{
	CREATE TEMP TABLE scratch (id int PRIMARY KEY, owner_id int);
	SELECT crmpool.manage('scratch', 'owner_id');}, extra_params => $app);
like($err, qr/crmpool cannot manage temporary table "scratch"/, '0.2 refuses a temporary table');

# --- the worker: one table fails, the others are recycled ---------------------------------
$node->safe_psql('postgres', 'CREATE DATABASE crm');
$node->safe_psql('crm', q{
	CREATE EXTENSION crmpool;
	CREATE TABLE refusing (id int PRIMARY KEY, owner_id int);
	INSERT INTO refusing VALUES (1, NULL);
	SELECT crmpool.manage('refusing', 'owner_id');
	SELECT crmpool.set_rules('refusing', '{"recycle_no_followup": "30 days"}');
	SELECT crmpool.claim('refusing', 1, 7);
	CREATE FUNCTION refuse_release() RETURNS trigger LANGUAGE plpgsql AS
		$$BEGIN RAISE EXCEPTION 'refusing says no'; END$$;
	CREATE TRIGGER refuse_release BEFORE UPDATE ON refusing FOR EACH ROW
		WHEN (NEW.owner_id IS NULL) EXECUTE FUNCTION refuse_release();
	CREATE TABLE good (id int PRIMARY KEY, owner_id int);
	INSERT INTO good SELECT g, NULL FROM generate_series(1, 3) g;
	SELECT crmpool.manage('good', 'owner_id');
	SELECT crmpool.set_rules('good', '{"recycle_no_followup": "30 days"}');
	SELECT crmpool.claim('good', g, 7) FROM generate_series(1, 3) g;
});
my $log_start = -s $node->logfile;
$node->safe_psql('postgres',
	"ALTER SYSTEM SET crmpool.fake_now = '2026-03-01 09:00+00'; SELECT pg_reload_conf();");
$node->poll_query_until('crm', 'SELECT count(*) = 3 FROM good WHERE owner_id IS NULL')
  or die 'the worker did not recycle table good';
pass('the worker recycled table good');
$node->wait_for_log(qr/WARNING:  crmpool could not recycle table refusing: refusing says no/,
	$log_start);
pass('and said which table it could not recycle, and why');
is($node->safe_psql('crm', 'SELECT owner_id FROM refusing'), '7', 'table refusing is untouched');

$node->stop;
done_testing();
