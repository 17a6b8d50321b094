# yudao adopts crmpool with manage() arguments and rules only (issue 9, section 6): the
# yudao-shaped table (test/fixtures/yudao_crm.sql) is managed with its own tenant, lock,
# owner-time and soft-delete columns, contrib/yudao/sync_rules.sql writes yudao's pool and limit
# configuration and its users into crmpool, and each of yudao's refusals comes back as crmpool's
# SQLSTATE (docs/adopting.md, the translation table), through crmpool's functions and through
# yudao's own plain UPDATE marked with crmpool.intent.
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $top = dirname(__FILE__) . '/../..';
my $node = PostgreSQL::Test::Cluster->new('adopt_yudao');
$node->init;
# yudao writes LocalDateTime.now() of a JVM in Asia/Shanghai into timestamp columns: crmpool
# reads them in crmpool.timezone.  09:00 in Shanghai is 01:00 UTC.
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'crmpool'
crmpool.timezone = 'Asia/Shanghai'
crmpool.fake_now = '2026-01-01 01:00:00+00'
timezone = 'UTC'
});
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION crmpool');
$node->safe_psql('postgres', slurp_file("$top/test/fixtures/yudao_crm.sql"));
$node->safe_psql('postgres', slurp_file("$top/contrib/yudao/sync_rules.sql"));
# try(statement): 'ok', or the SQLSTATE it raised
$node->safe_psql('postgres', q{
	CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
	BEGIN
		EXECUTE stmt;
		RETURN 'ok';
	EXCEPTION WHEN OTHERS THEN
		RETURN SQLSTATE;
	END $$;
});
# sql(statements): their output; attempt(statement): the SQL that tries it
sub sql { return $node->safe_psql('postgres', $_[0]); }
sub attempt { my $s = shift; $s =~ s/'/''/g; return "SELECT try('$s')"; }

# --- attach: the manage() call and the table-wide rules of docs/adopting.md -----------------
sql(q{
	SELECT crmpool.manage('crm_customer', 'owner_user_id',
		followup_column => 'contact_last_time', deal_column => 'deal_status',
		level_column => 'level', tenant_column => 'tenant_id', lock_column => 'lock_status',
		owner_since_column => 'owner_time', deleted_column => 'deleted');
	-- yudao refuses to receive a customer with a deal (CUSTOMER_ALREADY_DEAL) and lets a
	-- locked customer be transferred but not put back in the pool nor recycled
	SELECT crmpool.set_rules('crm_customer', '{"claim_with_deal": false, "lock_blocks": ["release", "recycle"]}');
});

# adopted spells start at owner_time (09:00 in Shanghai), not at manage() time
is(sql(q{SELECT since = '2025-12-02 09:00+08' FROM crmpool.history('crm_customer', 1001)}),
	't', 'the adopted spell of 1001 starts at its owner_time, read in crmpool.timezone');

# --- the sync --------------------------------------------------------------------------------
is(sql(q{SELECT string_agg(scope || ' ' || target, ', ' ORDER BY scope, target)
	   FROM crmpool_yudao.sync_rules('crm_customer')}),
	'rep 101, team 10, team 20, team 30, tenant 1, tenant 2',
	'the first sync writes every scope yudao configures');
is(sql(q{SELECT count(*) FROM crmpool_yudao.sync_rules('crm_customer')}), '0',
	'a second sync with nothing changed writes nothing');

sub rule {
	my ($rep, $tenant, $key) = @_;
	return sql(qq{SELECT crmpool.rules('crm_customer', rep => $rep, tenant => '$tenant') ->> '$key'});
}
is(rule(101, 1, 'private_cap'), '3', 'rep 101: his own owned cap (3) beats his dept\'s (5)');
is(rule(101, 1, 'count_deals_in_cap'), 'true', 'rep 101: deals count, as config 1 says');
is(rule(101, 1, 'lock_cap'), '2', 'rep 101: the larger lock cap of his and his dept\'s, as yudao takes');
is(rule(102, 1, 'private_cap'), '5', 'rep 102: dept 10\'s cap (config 5 is soft-deleted)');
is(rule(102, 1, 'count_deals_in_cap'), 'false', 'rep 102: deals do not count (config 2)');
is(rule(103, 1, 'lock_cap'), '', 'rep 103: dept 20 has no lock cap');
is(rule(201, 2, 'private_cap'), '2', 'rep 201 of tenant 2: dept 30\'s cap');
is(sql(q{SELECT (crmpool.rules('crm_customer', tenant => '1') ->> 'recycle_no_followup')::interval = '30 days'
	   AND (crmpool.rules('crm_customer', tenant => '1') ->> 'recycle_no_deal')::interval = '90 days'
	   AND (crmpool.rules('crm_customer', tenant => '1') ->> 'warn_before')::interval = '3 days'}),
	't', 'tenant 1: contact_expire_days, deal_expire_days and notify_days');
is(sql(q{SELECT crmpool.rules('crm_customer', tenant => '2') ->> 'recycle_no_followup'}), '',
	'tenant 2: the pool is disabled, nothing recycles');

# 1001: last follow-up 2025-12-20 15:30 (Shanghai) + 30 days comes before owner_time + 90 days
is(sql(q{SELECT due_at = '2026-01-19 15:30+08' AND rule = 'no_followup'
	   FROM crmpool.due('crm_customer') WHERE customer = 1001}),
	't', '1001 is due 30 days after its last follow-up, in Shanghai time');

# --- yudao's refusals, from crmpool ----------------------------------------------------------
is(sql(attempt(q{SELECT crmpool.claim('crm_customer', 1005, 101)})), 'ok', 'rep 101 receives a third customer');
is(sql(attempt(q{SELECT crmpool.claim('crm_customer', 1006, 101)})), 'CR006',
	'a fourth: CUSTOMER_OWNER_EXCEED_LIMIT (his deal counts)');
is(sql(attempt(q{SELECT crmpool.claim('crm_customer', 1006, 102)})), 'ok', 'rep 102 receives (cap 5)');
is(sql(attempt(q{SELECT crmpool.claim('crm_customer', 1007, 104)})), 'CR014',
	'rep 104 is disabled in system_users: inactive');
is(sql(attempt(q{SELECT crmpool.claim('crm_customer', 1008, 103)})), 'CR015',
	'1008 has a deal: CUSTOMER_ALREADY_DEAL');
is(sql(attempt(q{SELECT crmpool.claim('crm_customer', 1009, 102)})), 'CR002',
	'1009 is soft-deleted: CUSTOMER_NOT_EXISTS');
is(sql(q{SELECT owned FROM crmpool.rep_load('crm_customer', tenant => '1') WHERE rep = 103}), '1',
	'rep 103 owns 1004 only: his soft-deleted 1009 counts nowhere');
is(sql(attempt(q{SELECT crmpool.release('crm_customer', 1003, 102)})), 'CR005',
	'locked 1003 cannot be put in the pool: CUSTOMER_LOCKED_PUT_POOL_FAIL');
is(sql(attempt(q{SELECT crmpool.transfer('crm_customer', 1003, 102, 103)})), 'ok',
	'but yudao transfers locked customers, and so does lock_blocks without "transfer"');
is(sql(q{SELECT lock_status FROM crm_customer WHERE id = 1003}), 't', 'it stays locked');

# --- yudao's own statements, marked with crmpool.intent --------------------------------------
# receiveCustomer: UPDATE crm_customer SET owner_user_id = ?, owner_time = ? WHERE id = ?
is(sql(q{BEGIN;
	SET LOCAL crmpool.intent = 'claim';
	SELECT try('UPDATE crm_customer SET owner_user_id = 201, owner_time = ''2026-01-01 09:00'' WHERE id = 2002');
	COMMIT;}), 'ok', 'tenant 2: rep 201 receives 2002 by yudao\'s UPDATE');
is(sql(q{SELECT how_gained FROM crmpool.history('crm_customer', 2002) WHERE until IS NULL}), 'claim',
	'the UPDATE is recorded as a claim');
sql(q{INSERT INTO crm_customer (id, name, owner_time, tenant_id) VALUES (2003, '苏州某某纺织有限公司', '2026-01-01 09:00', 2)});
is(sql(q{BEGIN;
	SET LOCAL crmpool.intent = 'claim';
	SELECT try('UPDATE crm_customer SET owner_user_id = 201, owner_time = ''2026-01-01 09:00'' WHERE id = 2003');
	COMMIT;}), 'CR006', 'a third for rep 201: over dept 30\'s cap of 2 (tenant 2)');
# a stale receive (the customer was claimed meanwhile) under enforce_owned
is(sql(q{BEGIN;
	SET LOCAL crmpool.direct_writes = 'enforce_owned';
	SELECT try('UPDATE crm_customer SET owner_user_id = 102, owner_time = ''2026-01-01 09:00'' WHERE id = 1005');
	COMMIT;}), 'CR003', 'a stale receive of 1005 (rep 101\'s) is refused: CUSTOMER_OWNER_EXISTS');
# the recycle job is crmpool's: yudao's CrmCustomerAutoPutPoolJob is switched off
is(sql(q{SELECT count(*) FROM crmpool.due('crm_customer') WHERE customer = 1003}), '0',
	'locked 1003 is never due (lock_blocks "recycle")');

# --- the configuration changes in yudao; the sync follows --------------------------------------
sql(q{UPDATE crm_customer_limit_config SET deleted = true WHERE id = 1;
	UPDATE system_users SET status = 1 WHERE id = 103;
	UPDATE crm_customer_pool_config SET enabled = 0 WHERE id = 1;});
is(sql(q{SELECT string_agg(scope || ' ' || target, ', ' ORDER BY scope, target)
	   FROM crmpool_yudao.sync_rules('crm_customer')}),
	'rep 101, tenant 1', 'the second sync writes the two scopes that changed');
is(rule(101, 1, 'private_cap'), '5', 'rep 101 falls back to dept 10\'s owned cap');
is(rule(101, 1, 'count_deals_in_cap'), 'false', 'and its deal counting');
is(rule(101, 1, 'lock_cap'), '2', 'his lock cap stays');
is(sql(attempt(q{SELECT crmpool.claim('crm_customer', 1007, 103)})), 'CR014', 'rep 103, now disabled, is inactive');
is(sql(q{SELECT count(*) FROM crmpool.due('crm_customer')}), '0', 'tenant 1 stopped recycling');

is(sql(q{SELECT count(*) FROM crmpool.check('crm_customer')}), '0', 'crmpool.check() finds nothing out of step');

$node->stop;
done_testing();
