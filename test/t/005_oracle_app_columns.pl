# The oracle on a table shaped like yudao's crm_customer, whose lock flag, owner time and soft
# delete are the app's own columns (manage(..., lock_column, owner_since_column,
# deleted_column)): eight clients race claims, releases, transfers, crmpool.lock()/unlock(), the
# app's plain UPDATEs of the lock flag and of the owner, soft deletes, undeletes and DELETEs.
# Afterwards the bookkeeping must agree with the columns exactly: counters count only owned rows
# that are not deleted, crmpool.customer_lock is the set of owned, not deleted rows whose flag
# is set, no deleted row has an owner in the history, owner_time is the start of the open
# spell, and check() finds nothing.  Locks block release and recycle only (yudao's rule), so
# locked customers are transferred too.  The table has three tenants (tenant_column, yudao's
# tenant_id; the same rep ids work in each): every count, lock and cap is checked per tenant.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $clients = 8;
my $per_client = 300;

my $node = PostgreSQL::Test::Cluster->new('oracle_app_columns');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'crmpool'\ncrmpool.timezone = 'Asia/Shanghai'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION crmpool');
$node->safe_psql(
	'postgres', q{
CREATE TABLE crm_customer (
	id					bigint PRIMARY KEY,
	name				varchar(255) NOT NULL,
	owner_user_id		bigint,
	owner_time			timestamp,
	lock_status			smallint NOT NULL DEFAULT 0,
	deal_status			boolean NOT NULL DEFAULT false,
	contact_last_time	timestamp,
	deleted				smallint NOT NULL DEFAULT 0,
	tenant_id			bigint NOT NULL DEFAULT 1
);
CREATE INDEX ON crm_customer (owner_user_id);
INSERT INTO crm_customer (id, name, tenant_id, owner_user_id, owner_time, lock_status, deleted)
	SELECT g, 'customer ' || g, (g / 7) % 3 + 1,
		   CASE WHEN g % 3 = 0 THEN g % 10 + 1 END,
		   CASE WHEN g % 3 = 0 THEN '2026-01-01 08:00'::timestamp END,
		   CASE WHEN g % 45 = 0 THEN 1 ELSE 0 END,
		   CASE WHEN g % 17 = 0 THEN 1 ELSE 0 END
	FROM generate_series(1, 600) g;
SELECT crmpool.manage('crm_customer', 'owner_user_id', deal_column => 'deal_status',
					  tenant_column => 'tenant_id', lock_column => 'lock_status', owner_since_column => 'owner_time',
					  deleted_column => 'deleted');
SELECT crmpool.set_rules('crm_customer', '{"private_cap": 40, "lock_cap": 3,
	"lock_blocks": ["release", "recycle"]}');
CREATE TABLE oracle_outcome (op text NOT NULL, code text NOT NULL);
CREATE FUNCTION oracle_try(op text, c bigint, r bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	target	bigint;
	holder	bigint;
	done	boolean := true;
BEGIN
	CASE op
	WHEN 'claim' THEN
		SELECT id INTO target FROM crm_customer
		WHERE owner_user_id IS NULL ORDER BY id >= c DESC, id LIMIT 1;
		PERFORM crmpool.claim('crm_customer', coalesce(target, c), r);
	WHEN 'claim_any' THEN
		PERFORM crmpool.claim('crm_customer', c, r);
	WHEN 'release' THEN
		SELECT id INTO target FROM crm_customer
		WHERE owner_user_id = r ORDER BY id >= c DESC, id LIMIT 1;
		PERFORM crmpool.release('crm_customer', coalesce(target, c), r);
	WHEN 'transfer' THEN
		SELECT id, owner_user_id INTO target, holder FROM crm_customer
		WHERE owner_user_id IS NOT NULL AND deleted = 0 ORDER BY id >= c DESC, id LIMIT 1;
		IF holder IS NULL OR holder = r THEN
			holder := r % 10 + 1;
		END IF;
		PERFORM crmpool.transfer('crm_customer', coalesce(target, c), holder, r);
	WHEN 'lock' THEN
		SELECT id INTO target FROM crm_customer
		WHERE owner_user_id = r ORDER BY id >= c DESC, id LIMIT 1;
		done := crmpool.lock('crm_customer', coalesce(target, c), r);
	WHEN 'unlock' THEN
		SELECT id INTO target FROM crm_customer
		WHERE owner_user_id = r AND lock_status <> 0 ORDER BY id >= c DESC, id LIMIT 1;
		done := crmpool.unlock('crm_customer', coalesce(target, c), r);
	WHEN 'app_lock' THEN
		UPDATE crm_customer SET lock_status = 1 WHERE id = c AND lock_status = 0;
		done := FOUND;
	WHEN 'app_unlock' THEN
		UPDATE crm_customer SET lock_status = 0 WHERE id = c AND lock_status <> 0;
		done := FOUND;
	WHEN 'app_receive' THEN
		-- yudao's receive: UPDATE owner_user_id, owner_time (crmpool stamps owner_time itself)
		UPDATE crm_customer SET owner_user_id = r, owner_time = '2000-01-01'
		WHERE id = c AND owner_user_id IS DISTINCT FROM r;
		done := FOUND;
	WHEN 'app_put_back' THEN
		UPDATE crm_customer SET owner_user_id = NULL WHERE id = c AND owner_user_id IS NOT NULL;
		done := FOUND;
	WHEN 'soft_delete' THEN
		UPDATE crm_customer SET deleted = 1 WHERE id = c AND deleted = 0;
		done := FOUND;
	WHEN 'undelete' THEN
		UPDATE crm_customer SET deleted = 0 WHERE id = c AND deleted <> 0;
		done := FOUND;
	WHEN 'multi' THEN
		-- several customers of several reps in one statement: deletes, locks and receives
		UPDATE crm_customer SET deleted = CASE WHEN id = c THEN 1 ELSE deleted END,
			lock_status = CASE WHEN id = c + 1 THEN 1 ELSE lock_status END,
			owner_user_id = CASE WHEN id = c + 2 THEN r ELSE owner_user_id END
		WHERE id IN (c, c + 1, c + 2);
		done := FOUND;
	WHEN 'delete' THEN
		DELETE FROM crm_customer WHERE id = c;
		done := FOUND;
	END CASE;
	INSERT INTO oracle_outcome VALUES (op, CASE WHEN done THEN 'ok' ELSE 'noop' END);
EXCEPTION WHEN OTHERS THEN
	IF SQLSTATE LIKE 'CR%' THEN
		INSERT INTO oracle_outcome VALUES (op, SQLSTATE);
	ELSE
		RAISE;
	END IF;
END
$$;
});

my %weights = (
	claim => 12, claim_any => 4, release => 8, transfer => 6, lock => 6, unlock => 3,
	app_lock => 6, app_unlock => 3, app_receive => 6, app_put_back => 3,
	soft_delete => 4, undelete => 4, multi => 3, delete => 1);
my %scripts;
$scripts{"005_oracle_$_\@$weights{$_}"} =
  "\\set c random(1, 620)\n\\set r random(1, 10)\nSELECT oracle_try('$_', :c, :r);\n"
  foreach keys %weights;

my $total = $clients * $per_client;
$node->pgbench(
	"-n -c $clients -j 2 -t $per_client --max-tries=50",
	0,
	[
		qr{actually processed: $total/$total},
		qr{number of failed transactions: 0 \(}
	],
	[qr{^$}],
	'concurrent clients write the app columns on every path without an unexpected error',
	\%scripts,
	'postgres');

unlike(slurp_file($node->logfile), qr/deadlock detected/, 'no deadlock, not even a retried one');

sub rows
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql);
}

my $outcomes = rows(
	"SELECT op || ':' || code || ' ' || count(*) FROM oracle_outcome GROUP BY op, code ORDER BY 1");
my %seen;
foreach (split /\n/, $outcomes)
{
	my ($op, $code, $count) = /^(\w+):(\w+) (\d+)$/ or die "bad outcome line $_";
	$seen{"$op:$code"} += $count;
	$seen{$code} += $count;
}
ok($seen{"$_:ok"}, "some $_ succeeded") foreach (sort keys %weights);
ok($seen{$_}, "refusal $_ happened") foreach ('CR002', 'CR003', 'CR004', 'CR005', 'CR007');
note "outcomes:\n$outcomes";

is(rows("SELECT kind || ' ' || coalesce(customer::text, '') || ' ' || coalesce(rep::text, '')
		 FROM crmpool.check('crm_customer')"), '', 'check() finds nothing');
is( rows(
		q{WITH truth AS (
			SELECT tenant_id AS tenant, owner_user_id AS rep, count(*) AS owned,
				   count(*) FILTER (WHERE lock_status <> 0) AS locked
			FROM crm_customer WHERE owner_user_id IS NOT NULL AND deleted = 0 GROUP BY 1, 2),
		  loads AS (
			SELECT t AS tenant, l.* FROM generate_series(1, 3) t,
				 crmpool.rep_load('crm_customer', t::text) l)
		  SELECT coalesce(t.tenant, l.tenant) || '/' || coalesce(t.rep, l.rep) || ': '
				 || t::text || ' vs ' || l::text
		  FROM truth t FULL JOIN loads l USING (tenant, rep)
		  WHERE (coalesce(t.owned, 0), coalesce(t.locked, 0)) IS DISTINCT FROM
				(coalesce(l.owned, 0), coalesce(l.locked, 0))
		  ORDER BY 1}),
	'',
	'owned and locked count, per tenant, the owned rows that are not deleted, and their lock flags');
is(rows(q{SELECT count(DISTINCT tenant) FROM crmpool.rep_counter WHERE owned > 0}), '3',
	'the counters are kept under three tenants');
is( rows(
		q{SELECT coalesce(c.id, k.customer) FROM
			(SELECT id, owner_user_id, tenant_id FROM crm_customer
			 WHERE lock_status <> 0 AND owner_user_id IS NOT NULL AND deleted = 0) c
		  FULL JOIN (SELECT customer, rep, tenant FROM crmpool.customer_lock
					 WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'crm_customer'::regclass)) k ON k.customer = c.id
		  WHERE k.rep IS DISTINCT FROM c.owner_user_id OR k.tenant IS DISTINCT FROM c.tenant_id
		  ORDER BY 1 LIMIT 10}),
	'',
	'crmpool.customer_lock is exactly the owned, not deleted customers whose flag is set, under their tenant');
is( rows(
		q{SELECT id FROM crm_customer WHERE lock_status <> 0 AND owner_user_id IS NULL AND deleted = 0}),
	'',
	'no customer in the pool keeps a lock flag');
is( rows(
		q{WITH last AS (
			SELECT DISTINCT ON (customer) customer, owner, how, at, tenant
			FROM crmpool.ownership_event WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'crm_customer'::regclass)
			ORDER BY customer, seq DESC)
		  SELECT c.id FROM crm_customer c JOIN last l ON l.customer = c.id
		  WHERE l.owner IS DISTINCT FROM CASE WHEN c.deleted = 0 THEN c.owner_user_id END
			 OR l.tenant <> c.tenant_id
			 OR (c.deleted = 0 AND c.owner_user_id IS NOT NULL AND l.how <> 'adopt'
				 AND abs(extract(epoch FROM (c.owner_time AT TIME ZONE 'Asia/Shanghai') - l.at)) > 1)
		  ORDER BY 1 LIMIT 10}),
	'',
	'the last event is the owner of the row (none when deleted), and owner_time its start');
is( rows(
		q{SELECT c.id FROM crm_customer c
		  WHERE c.owner_user_id IS NOT NULL AND c.deleted = 0 AND c.owner_time = '2000-01-01'}),
	'',
	'every gain stamped owner_time, over the value the app wrote');
is( rows(
		q{SELECT t || '/' || l.rep FROM generate_series(1, 3) t,
			   crmpool.rep_load('crm_customer', t::text) l
		  WHERE l.owned > 40 OR l.locked > 3}),
	'',
	'no rep ends above its private cap or its lock cap in any tenant');

$node->stop;
done_testing();
