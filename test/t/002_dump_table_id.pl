# pg_dump / restore and table ids (issue 9 follow-up; docs/design.md, "Tenants and
# distribution"): crmpool's state tables name a managed table by crmpool.managed_table.table_id,
# never by its OID.  A database with several managed tables (ids not in the order of their
# OIDs, an id burnt by unmanage() and one by DROP TABLE, text and integer tenants, identity
# keys, recycle state, pools, distribution state) is dumped and restored into databases where
# every table has another OID: custom format; directory format with pg_restore -j 2; and
# pg_restore --clean over a copy of the source, which first shows the limit reference.md names
# ("Dump and restore": crmpool keeps a managed table's primary key) and its way round.  In each:
#  - every table keeps its id, and every state row still belongs to the table it belonged to
#    (counted per table by name, through managed_table), and none belongs to no table;
#  - every sequence crmpool numbers with is where it was, so that a table managed after the
#    restore gets the id the original database would give next (never one a table had), and a
#    new text tenant, event, warning or duplicate warning a new number;
#  - check() is clean on every table, and the restored rules still hold;
#  - DROP TABLE and unmanage() after the restore forget exactly that table's rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump_table_id');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'crmpool'");
$node->start;
my $q = sub { $node->safe_psql($_[0], $_[1]) };
my $now = q{SET crmpool.fake_now = '2026-03-02 09:00+00'; SET crmpool.timezone = 'UTC';};

$node->safe_psql('postgres', 'CREATE DATABASE src');
$q->('src', $now . q{
	CREATE EXTENSION crmpool;
	-- created in one order, managed in another: ids do not follow OIDs (nor names)
	CREATE TABLE t_lead (id bigint PRIMARY KEY, owner bigint, pool text, name text, phone text,
						 last_contact timestamptz);
	CREATE TABLE t_shop (id bigint NOT NULL, org text NOT NULL, owner bigint, name text, phone text,
						 last_contact timestamptz, PRIMARY KEY (org, id));
	CREATE TABLE t_firm (id bigint PRIMARY KEY, tenant_id int NOT NULL, owner bigint, phone text);
	CREATE TABLE t_gone (id bigint PRIMARY KEY, owner bigint);
	CREATE TABLE t_dropped (id bigint PRIMARY KEY, owner bigint);

	SELECT crmpool.manage('t_gone', 'owner');
	SELECT crmpool.manage('t_shop', 'owner', followup_column => 'last_contact', tenant_column => 'org');
	SELECT crmpool.manage('t_lead', 'owner', pool_column => 'pool', followup_column => 'last_contact');
	SELECT crmpool.manage('t_firm', 'owner', tenant_column => 'tenant_id');
	SELECT crmpool.manage('t_dropped', 'owner');
	-- ids 1 and 5 are burnt: the sequence stands above every id a restored row has
	SELECT crmpool.unmanage('t_gone');
	DROP TABLE t_dropped;

	SELECT crmpool.set_identity('t_lead', 'name', '{phone}');
	SELECT crmpool.set_identity('t_shop', 'name', '{phone}');
	SELECT crmpool.set_identity('t_firm', NULL, '{phone}');
	SELECT crmpool.set_rules('t_lead', '{"private_cap": 3, "lock_cap": 1, "recycle_no_followup": "30 days", "warn_before": "40 days"}');
	SELECT crmpool.set_rules('t_shop', '{"recycle_no_followup": "30 days", "warn_before": "40 days"}');
	SELECT crmpool.set_rules('t_firm', '{"private_cap": 1}');
	SELECT crmpool.create_pool('t_lead', 'east');
	SELECT crmpool.set_rep('t_lead', r) FROM generate_series(1, 3) r;
	SELECT crmpool.set_pool_members('t_lead', 'east', '{1,2}');

	INSERT INTO t_lead VALUES (1, NULL, 'east', 'Zhongda Trading Co Ltd', '13800138001', NULL),
		(2, NULL, 'east', 'Huaxin Foods Ltd', '13800138002', NULL),
		(3, NULL, NULL, NULL, '13800138003', NULL);
	-- a duplicate let through (dedup_* default to "warn")
	INSERT INTO t_lead VALUES (4, NULL, NULL, 'Zhongda Trading Co Ltd', '13800138001', NULL);
	INSERT INTO t_shop VALUES (1, 'acme', NULL, 'Acme Shop', '13900139001', NULL),
		(2, 'acme', NULL, NULL, '13900139002', NULL), (1, 'initech', NULL, NULL, '13900139001', NULL);
	INSERT INTO t_firm SELECT g, 1 + g % 2, NULL, '1370013700' || g FROM generate_series(1, 4) g;

	SELECT crmpool.claim('t_lead', 1, 1), crmpool.lock('t_lead', 1, 1);
	SELECT crmpool.claim('t_lead', 2, 2), crmpool.release('t_lead', 2, 2, 'wrong contact');
	SELECT crmpool.claim('t_lead', 3, 3), crmpool.follow_up('t_lead', 3, 3, note => 'called');
	SELECT crmpool.distribute('t_lead', 'east', customers => '{2}');
	BEGIN;
	SET LOCAL crmpool.tenant = 'acme';
	SELECT crmpool.claim('t_shop', 1, 7), crmpool.lock('t_shop', 1, 7);
	SELECT crmpool.claim('t_shop', 2, 8);
	COMMIT;
	BEGIN;
	SET LOCAL crmpool.tenant = 'initech';
	SELECT crmpool.claim('t_shop', 1, 8);
	COMMIT;
	SELECT crmpool.claim('t_firm', 1, 5), crmpool.claim('t_firm', 2, 5);
});
# a warning sent, and a due time passed (recycling leaves a row in the ledger)
$q->('src', q{SET crmpool.fake_now = '2026-03-25 09:00+00'; SET crmpool.timezone = 'UTC';
	SELECT crmpool.recycle_now('t_lead'), crmpool.recycle_now('t_shop')});

# Per managed table (by name): its id, and how many rows each state table holds for it; then
# the state rows of no managed table.
my @state_tables = split /\n/, $q->('src', q{SELECT c.relname FROM pg_class c
	JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'table_id'
	WHERE c.relnamespace = 'crmpool'::regnamespace AND c.relkind = 'r' AND c.relname <> 'managed_table'
	ORDER BY 1});
my $state_sql = join("\nUNION ALL ",
	q{SELECT 0, 'ids:' || coalesce(string_agg(format(' %s=%s', rel, table_id), '' ORDER BY rel::text), '')
		FROM crmpool.managed_table},
	(map { my $n = $_ + 1; my $t = $state_tables[$_];
		qq{SELECT $n, '$t:' || coalesce(string_agg(format(' %s=%s', m.rel, n), '' ORDER BY m.rel::text), '')
			FROM (SELECT table_id, count(*) AS n FROM crmpool.$t GROUP BY 1) s
			JOIN crmpool.managed_table m USING (table_id)} } 0 .. $#state_tables),
	'SELECT 1000, ' . "'orphans: ' || (" . join(' + ', map { qq{(SELECT count(*) FROM crmpool.$_ s
			WHERE NOT EXISTS (SELECT FROM crmpool.managed_table m WHERE m.table_id = s.table_id))} } @state_tables) . ')');
sub state
{
	my ($db) = @_;
	return $q->($db, "SELECT line FROM ($state_sql) s(n, line) ORDER BY n");
}
# A state without one table's entries.
sub without
{
	my ($s, $t) = @_;
	return $s =~ s/ \Q$t\E=\d+//gr;
}
# Every sequence crmpool numbers with: where it stands.
my $seqs = q{SELECT string_agg(format('%s %s', c.relname, pg_sequence_last_value(c.oid)), E'\n' ORDER BY c.relname)
	FROM pg_class c WHERE c.relnamespace = 'crmpool'::regnamespace AND c.relkind = 'S'};
# What the readers show of each table.
my $readers = $now . q{
	SELECT * FROM crmpool.rep_load('t_lead');
	SELECT * FROM crmpool.rep_load('t_shop', 'acme');
	SELECT * FROM crmpool.rep_load('t_shop', 'initech');
	SELECT * FROM crmpool.rep_load('t_firm', '1');
	SELECT c.id, h.* FROM t_lead c, crmpool.history('t_lead', c.id) h ORDER BY 1, 3;
	SELECT c.org, c.id, h.* FROM t_shop c, crmpool.history('t_shop', c.id, c.org) h ORDER BY 1, 2, 4;
	SELECT * FROM crmpool.due();
	SELECT * FROM crmpool.recycle_warnings('t_lead');
	SELECT * FROM crmpool.recycle_warnings('t_shop');
	SELECT * FROM crmpool.duplicate_warnings('t_lead');
	SELECT * FROM crmpool.find_duplicates('t_shop', phone => '13900139001', tenant => 'initech');
	SELECT * FROM crmpool.pools('t_lead');
	SELECT * FROM crmpool.pool_members('t_lead', 'east');
};

my $src_state = state('src');
note("the source's state:\n$src_state");
like($src_state, qr/^ids: t_firm=4 t_lead=3 t_shop=2$/m, 'the source: ids in the order managed, 1 and 5 burnt');
like($src_state, qr/^orphans: 0$/m, 'the source: every state row belongs to a managed table');
for my $t (qw(rep_counter ownership_event customer_lock recycle_due recycle_warning followup
	identity_key identity_name duplicate_warning tenant_name distribute_log))
{
	like($src_state, qr/^$t: \S/m, "the source has $t rows");
}
my $src_seqs = $q->('src', $seqs);
my $src_readers = $q->('src', $readers);

my $base = $node->basedir;
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', "$base/src.dump" ], 'pg_dump -Fc');
$node->command_ok([ 'pg_dump', '-Fd', '-d', $node->connstr('src'), '-f', "$base/src.dir" ], 'pg_dump -Fd');

# What the source gives next, seen from a copy of it (the source itself stays as dumped).
$node->safe_psql('postgres', 'CREATE DATABASE src_next TEMPLATE src');
$q->('src_next', q{CREATE TABLE t_new (id bigint PRIMARY KEY, owner bigint);
	SELECT crmpool.manage('t_new', 'owner')});
my $next_id = $q->('src_next', q{SELECT table_id FROM crmpool.managed_table WHERE rel = 't_new'::regclass});
is($next_id, '6', 'the source would give id 6 next');

my %restore = (
	dst_custom => [ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst_custom'), "$base/src.dump" ],
	dst_parallel => [ 'pg_restore', '--exit-on-error', '-j', '2', '-d', $node->connstr('dst_parallel'), "$base/src.dir" ],
	dst_clean => [ 'pg_restore', '--exit-on-error', '--clean', '--if-exists', '-d', $node->connstr('dst_clean'), "$base/src.dump" ]);
for my $db (sort keys %restore)
{
	if ($db eq 'dst_clean')
	{
		# over a copy of the source: --clean drops each object before making it again.  It cannot
		# drop a managed table's primary key (crmpool refuses to leave the table without one); with
		# crmpool dropped first (CASCADE: its triggers on the tables), it can.
		$node->safe_psql('postgres', "CREATE DATABASE $db TEMPLATE src");
		my (undef, $err) = run_command($restore{$db});
		like($err, qr/DROP CONSTRAINT IF EXISTS t_\w+_pkey/, "$db: --clean over managed tables stops at their primary key");
		$q->($db, 'DROP EXTENSION crmpool CASCADE');
	}
	else
	{
		# a table made before the restore moves every restored OID away from the source's
		$node->safe_psql('postgres', "CREATE DATABASE $db");
		$q->($db, 'CREATE TABLE filler (id int); DROP TABLE filler;');
	}
	$node->command_ok($restore{$db}, "restore into $db");

	is($q->($db, q{SELECT count(*) FROM unnest('{t_lead,t_shop,t_firm}'::text[]) t
		WHERE to_regclass(t)::oid IN (} . join(',', split /\n/, $q->('src',
		q{SELECT oid FROM pg_class WHERE relname IN ('t_lead', 't_shop', 't_firm')})) . ')'),
		'0', "$db: every managed table has another OID than in the source");
	is(state($db), $src_state, "$db: every table keeps its id, and every state row its table");
	is($q->($db, $seqs), $src_seqs, "$db: every sequence stands where it stood");
	is($q->($db, $readers), $src_readers, "$db: the readers show the same");
	for my $t (qw(t_lead t_shop t_firm))
	{
		is($q->($db, "SELECT count(*) FROM crmpool.check('$t')"), '0', "$db: check('$t') is clean");
	}

	# the restored rules and counters still hold
	my ($ret, $out, $err) = $node->psql($db, q{SELECT crmpool.release('t_lead', 1, 1)});
	like($err, qr/customer 1 is locked/, "$db: a restored lock still stops a release");
	($ret, $out, $err) = $node->psql($db, q{SELECT crmpool.claim('t_firm', 3, 5)});
	like($err, qr/rep 5 has reached the private cap/, "$db: restored counters still cap the rep");
	($ret, $out, $err) = $node->psql($db, q{INSERT INTO t_lead VALUES (5, NULL, 'east', NULL, NULL, NULL);
		SELECT crmpool.claim('t_lead', 5, 3)});
	like($err, qr/member/, "$db: restored pool members still keep the pool to them");

	# a table managed now gets the id the source gives next, above every id ever given, and
	# rows of its own
	my $before = state($db);
	$q->($db, q{CREATE TABLE t_new (id bigint PRIMARY KEY, owner bigint);
		INSERT INTO t_new VALUES (1, NULL);
		SELECT crmpool.manage('t_new', 'owner');
		SELECT crmpool.claim('t_new', 1, 1)});
	is($q->($db, q{SELECT table_id FROM crmpool.managed_table WHERE rel = 't_new'::regclass}), $next_id,
		"$db: a table managed after the restore gets the next id, no restored one");
	my $after = state($db);
	like($after, qr/^ownership_event:.* t_new=2\b/m, "$db: the new table's history is its own");
	is(without($after, 't_new'), $before, "$db: the new table's rows are its own, the others' unchanged");
	# a new text tenant gets a new key, next to the restored ones
	is($q->($db, q{INSERT INTO t_shop VALUES (1, 'globex', NULL, NULL, NULL, NULL);
		SELECT string_agg(name || '=' || tenant, ' ' ORDER BY tenant) FROM crmpool.tenant_name n
		JOIN crmpool.managed_table m USING (table_id) WHERE m.rel = 't_shop'::regclass}),
		'acme=1 initech=2 globex=3', "$db: a new text tenant gets the next key");
	is($q->($db, q{SELECT count(*) FROM crmpool.check('t_shop')}), '0', "$db: check('t_shop') is still clean");

	# DROP TABLE and unmanage() forget exactly that table's rows
	$before = state($db);
	$q->($db, 'DROP TABLE t_shop');
	$after = state($db);
	is($after, without($before, 't_shop'), "$db: DROP TABLE t_shop forgets its rows and only those");
	$before = $after;
	$q->($db, q{SET client_min_messages = warning; SELECT crmpool.unmanage('t_lead')});
	$after = state($db);
	is($after, without($before, 't_lead'), "$db: unmanage('t_lead') forgets its rows and only those");
	like($after, qr/^orphans: 0$/m, "$db: no state row is left without its table");
}

$node->stop;
done_testing();
