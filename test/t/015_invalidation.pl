# Claims, releases, locks and duplicate checks keep working while crmpool's own tables are
# analyzed and vacuumed beside them.  Each ANALYZE or VACUUM of a table sends a relcache
# invalidation, which another backend processes whenever it next takes a lock; 0.1 cleared its
# cached OIDs in the callback, so one that arrived inside table_open() made the next line open
# OID 0 (XX000 "could not open relation with OID 0", about 1 in 1,000 transactions here).  The
# run is bounded by its transaction count, not by time.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('inval');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'crmpool'");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION crmpool;
	CREATE TABLE customers (id bigint PRIMARY KEY, owner_id bigint, phone text);
	INSERT INTO customers SELECT g, NULL, '1380013' || lpad(g::text, 4, '0') FROM generate_series(1, 2000) g;
	SELECT crmpool.manage('customers', 'owner_id');
	SELECT crmpool.set_identity('customers', NULL, '{phone}');
	SELECT crmpool.set_rules('customers', '{"private_cap": 40, "lock_cap": 5, "dedup_phone": "block"}');
	-- One pass through claim, lock, unlock, release and a duplicate-checked write; only
	-- crmpool's refusals (class CR: owned by another client, cap reached) are expected.
	CREATE FUNCTION work(c bigint, r bigint) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN
		BEGIN
			PERFORM crmpool.claim('customers', c, r);
			PERFORM crmpool.lock('customers', c, r);
			PERFORM crmpool.unlock('customers', c, r);
			UPDATE customers SET phone = phone WHERE id = c;
			PERFORM crmpool.release('customers', c, r, 'test');
		EXCEPTION WHEN OTHERS THEN
			IF SQLSTATE NOT LIKE 'CR%' THEN
				RAISE;
			END IF;
		END;
	END $$;
});

my $dir = PostgreSQL::Test::Utils::tempdir;
open my $fh, '>', "$dir/work.pgbench" or die;
print $fh "\\set c random(1, 2000)\n\\set r random(1, 20)\nSELECT work(:c, :r);\n";
close $fh;
open $fh, '>', "$dir/analyze.pgbench" or die;
print $fh "ANALYZE crmpool.rep_counter, crmpool.ownership_event, crmpool.customer_lock, crmpool.identity_key, crmpool.identity_name;\n"
  . "VACUUM crmpool.rep_counter;\n";
close $fh;

$node->pgbench(
	'-n -c 4 -j 2 -t 1500',
	0,
	[ qr{number of failed transactions: 0 \(0\.000%\)}, qr{number of transactions actually processed: 6000/6000} ],
	[ qr{^$} ],
	'6,000 transactions beside ANALYZE and VACUUM of crmpool tables: not one error',
	{},
	'-f', "$dir/work.pgbench\@8", '-f', "$dir/analyze.pgbench\@1");

my $log = slurp_file($node->logfile);
unlike($log, qr/could not open relation with OID/, 'no relation was opened by a cleared OID');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM crmpool.rep_counter r
	FULL JOIN (SELECT owner_id AS rep, count(*) AS n FROM customers
			   WHERE owner_id IS NOT NULL GROUP BY 1) t ON t.rep = r.rep
	WHERE r.owned IS DISTINCT FROM t.n AND (r.owned <> 0 OR t.n IS NOT NULL)}),
	'0', 'counters still equal the owned customers per rep');

$node->stop;
done_testing();
