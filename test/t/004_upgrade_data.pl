# A filled 0.1 installation under the current library, before and after ALTER EXTENSION crmpool
# UPDATE, and a filled 0.2 database through pg_dump and restore.
#
#  1. 0.1's SQL with the new library: CREATE EXTENSION crmpool VERSION '0.1' binds every C symbol
#     0.1's script names (CREATE FUNCTION looks each one up); test/t/004_upgrade_fill.sql fills the
#     database through every path, and track_functions shows that each of 0.1's C functions ran.
#     Caps, duplicate refusals, recycling and the readers work; what 0.1's SQL cannot give fails
#     with a clear error (a follow-up column of another type, the CR013 hint).
#  2. ALTER EXTENSION crmpool UPDATE: every row of every crmpool table and of the user's table is
#     unchanged, except the rows 0.1 left behind for tables that no longer exist (the update
#     deletes them, as README says); the readers return the same rows; check() is clean; the
#     same behaviour holds.  The database then equals a fresh 0.2 database filled the same way:
#     crmpool's rows, the readers, and pg_dump --schema-only (plain and --binary-upgrade, which
#     lists the extension's member objects one by one).
#  3. pg_dump / restore of that 0.2 database (custom format with pg_restore, plain format with
#     psql, directory format with pg_restore -j 2): the same rows, triggers and sequences, no
#     trigger fired by the restore, check() clean, and the same behaviour.
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade_data');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'crmpool'\ntrack_functions = 'all'");
$node->start;

my $fill = slurp_file(dirname(__FILE__) . '/004_upgrade_fill.sql');
my $now = q{SET crmpool.fake_now = '2026-01-15 10:00+00';};
my $tbl = 'public.cust';
my ($rows_compared, $objects_compared) = (0, 0);

# A relation OID no table has: rows 0.1 left behind for a temporary table it managed.
my $gone = '3999999999';

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

# Every row of every crmpool table and sequence, and of the user's tables, as text, by relation.
# $strip leaves out the columns 0.2 added to crmpool's tables (tenant, tenant_column,
# managed_table's table_id) and shows a state table's table_id as the table it names (0.1's
# rel), so that a 0.1 database and its update compare row by row.
sub snapshot
{
	my ($db, $strip) = @_;
	my %s;
	my @rels = split /\n/, $node->safe_psql($db, q{
		SELECT c.relkind::text || ' ' || n.nspname || '.' || c.relname FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE (n.nspname = 'crmpool' AND c.relkind IN ('r', 'S'))
		   OR (n.nspname = 'public' AND c.relkind = 'r')
		ORDER BY 1});
	for (@rels)
	{
		my ($kind, $rel) = split / /;
		# a sequence: its position (log_cnt is WAL bookkeeping, reset by setval on restore)
		my $row = 't::text';
		if ($strip && $kind eq 'r')
		{
			my $cols = $node->safe_psql($db, qq{
				SELECT string_agg(CASE WHEN attname = 'table_id'
					THEN '(SELECT m.rel FROM crmpool.managed_table m WHERE m.table_id = t.table_id)'
					ELSE 't.' || quote_ident(attname) END, ', ' ORDER BY attnum) FROM pg_attribute
				WHERE attrelid = '$rel'::regclass AND attnum > 0 AND NOT attisdropped
				  AND attname NOT IN ('tenant', 'tenant_column')
				  AND NOT ('$rel' = 'crmpool.managed_table' AND attname = 'table_id')});
			$row = "ROW($cols)::text";
		}
		$s{$rel} = $node->safe_psql($db, $kind eq 'S'
			? "SELECT last_value, is_called FROM $rel"
			: "SELECT $row FROM $rel t ORDER BY 1");
	}
	return \%s;
}

# What every reader returns, for every customer, as text by reader.
sub readers
{
	my ($db) = @_;
	my %r;
	my %q = (
		history => "SELECT c.id, h.* FROM $tbl c, crmpool.history('$tbl', c.id) WITH ORDINALITY h ORDER BY 1, h.ordinality",
		ownership_log => "SELECT c.id, h.* FROM $tbl c, crmpool.ownership_log('$tbl', c.id) WITH ORDINALITY h ORDER BY 1, h.ordinality",
		owner_at => "SELECT c.id, crmpool.owner_at('$tbl', c.id, t) FROM $tbl c, (VALUES
			('2026-01-05 09:00+00'::timestamptz), ('2026-01-10 00:00+00'), ('2026-01-15 12:00+00')) v(t) ORDER BY 1, t",
		rep_load => "SELECT * FROM crmpool.rep_load('$tbl')",
		# 0.1's columns: 0.2 ends these four with the customer's tenant (NULL here, checked below)
		due => "SELECT relation, customer, owner, due_at, rule, days_left, warn_at FROM crmpool.due('$tbl')",
		due_all => "SELECT relation, customer, owner, due_at, rule, days_left, warn_at FROM crmpool.due()",
		recycle_warnings => "SELECT seq, customer, owner, due_at, rule, warned_at FROM crmpool.recycle_warnings('$tbl')",
		duplicate_warnings => "SELECT id, customer, existing, matched_on, score, at, actor FROM crmpool.duplicate_warnings('$tbl')",
		duplicate_groups => "SELECT group_id, customer, matched_on FROM crmpool.duplicate_groups('$tbl')",
		find_duplicates => "SELECT * FROM crmpool.find_duplicates('$tbl', name => 'Zhongda DA Trading Co Ltd',
			phone => '138-0013-0004', email => 'C5\@example.com')",
		rules => "SELECT p, r, crmpool.rules('$tbl', p, r) FROM (VALUES ('east'), ('west'), (NULL)) a(p),
			(VALUES (7), (8), (9), (NULL)) b(r) ORDER BY 1, 2",
		# 0.1's columns: 0.2 adds tenant_column (NULL for every 0.1 table)
		managed_tables => 'SELECT rel, key_column, owner_column, pool_column, followup_column, deal_column,
			level_column, managed_at FROM crmpool.managed_tables',
		normalizers => q{SELECT crmpool.normalize_phone('+86 138 0013 8000 ext 5'), crmpool.normalize_email(' A.B+x@Example.COM'),
			crmpool.company_core('Shanghai Zhongda Trading Co Ltd'), crmpool.company_parts('Zhongda Trading Co Ltd Beijing Branch'),
			crmpool.name_similarity('Zhongda Trading Co Ltd', 'Zhongda Trading Ltd'), crmpool.name_bigrams('Zhongda')});
	$r{$_} = $node->safe_psql($db, "$now $q{$_}") for keys %q;
	return \%r;
}

# Compare two sets of texts by name; each name is one test.  Returns the number of lines compared.
sub same
{
	my ($got, $want, $what) = @_;
	my %names = map { $_ => 1 } keys %$got, keys %$want;
	my $lines = 0;
	for my $k (sort keys %names)
	{
		is($got->{$k} // '(missing)', $want->{$k} // '(missing)', "$what: $k");
		$lines += () = ($want->{$k} // '') =~ /^/mg if length($want->{$k} // '');
	}
	note("$what: $lines lines compared");
	return $lines;
}

# Run sql in a transaction that is rolled back; the SQLSTATE of its error, or 'ok: ' and the
# output of its last statement.
sub outcome
{
	my ($db, $sql) = @_;
	my ($ret, $out, $err) = $node->psql($db, "\\set VERBOSITY verbose\n$now\nBEGIN;\n$sql;\nROLLBACK;");
	return $1 if $err =~ /ERROR:\s+([0-9A-Z]{5}):/;
	my @lines = split /\n/, $out;
	return 'ok: ' . ($lines[-1] // '');
}

# The behaviour a 0.1 user relies on, each in a transaction rolled back (every database in this
# test holds the same state, so the same outcomes).
sub behaviour
{
	my ($db, $label) = @_;
	# rep 7 owns 11, 12 and 31; its cap (rep scope) is 4
	is(outcome($db, "SELECT crmpool.claim('$tbl', 33, 7); SELECT crmpool.claim('$tbl', 35, 7)"),
		'CR006', "$label: a claim over the rep's private cap is refused");
	is(outcome($db, "SELECT crmpool.claim('$tbl', 33, 7);
		SELECT string_agg(rep || ':' || owned, ',' ORDER BY rep) FROM crmpool.rep_load('$tbl')
		WHERE (rep, owned) IN (SELECT owner, count(*) FROM $tbl WHERE owner IS NOT NULL GROUP BY 1)"),
		'ok: 5:1,7:4,8:1,9:1', "$label: a claim works and every counter equals the table's count");
	is(outcome($db, "SELECT crmpool.claim('$tbl', 33, 7);
		SELECT (SELECT max(seq) FROM crmpool.ownership_event WHERE how = 'claim' AND customer = 33)
			> (SELECT max(seq) FROM crmpool.ownership_event WHERE customer <> 33)"),
		'ok: t', "$label: the claim's event number follows every earlier one");
	# rep 8 has locked 21, its lock cap in pool west is 1
	is(outcome($db, "SELECT crmpool.claim('$tbl', 25, 8); SELECT crmpool.lock('$tbl', 25, 8)"),
		'CR007', "$label: a lock over the lock cap is refused");
	is(outcome($db, "INSERT INTO $tbl (id, name, phone, pool) VALUES (50, 'Nanhai Foods', '+86 138 0013 0003', 'west')"),
		'CR020', "$label: a duplicate phone is refused (identity keys intact)");
	is(outcome($db, "SELECT crmpool.release('$tbl', 11, 7)"), 'CR005', "$label: a locked customer stays");
	is(outcome($db, "SELECT crmpool.release('$tbl', 31, 7); SELECT crmpool.claim('$tbl', 31, 7)"), 'CR009',
		"$label: the reclaim cooldown holds");
	# rep 9 holds 20 (level A: 20 days), rep 7 holds 31 (followed up 01-15): both due by 01-26
	is(outcome($db, q{SET crmpool.fake_now = '2026-02-20 09:00+00';
		SELECT crmpool.recycle_now('public.cust') AS recycled \gset
		SELECT :recycled || ' ' || count(*) FROM crmpool.due('public.cust')}),
		'ok: 2 0', "$label: recycling proceeds: both due customers go back, none is left due");
}

# pg_dump output, normalized.  Each rule removes what differs between two databases with the
# same objects, and nothing else:
#  - \restrict / \unrestrict carry a random key per run (pg_dump's fix of CVE-2025-8714);
#  - --binary-upgrade pins the OIDs, relfilenodes and attribute LSNs of the dumped database
#    (binary_upgrade_set_next_*), names the extension's config tables by OID, and restores
#    relfrozenxid/relminmxid of a table (by OID): OIDs and transaction ids differ between any
#    two databases, whatever their objects;
#  - statistics (pg_dump 18 writes them in --binary-upgrade mode) follow ANALYZE, not the
#    objects: --no-statistics where pg_dump has it.
my $no_stats = (run_command([ 'pg_dump', '--help' ]))[0] =~ /--no-statistics/ ? '--no-statistics' : ();

sub dump_schema
{
	my ($db, @opts) = @_;
	push @opts, $no_stats if $no_stats;
	my $out = $node->basedir . "/$db.schema.sql";
	$node->command_ok([ 'pg_dump', '--schema-only', @opts, '-d', $node->connstr($db), '-f', $out ],
		"pg_dump --schema-only @opts of $db");
	my $s = slurp_file($out);
	$s =~ s/^\\restrict .*$/\\restrict KEY/mg;
	$s =~ s/^\\unrestrict .*$/\\unrestrict KEY/mg;
	$s =~ s/^(SELECT pg_catalog\.binary_upgrade_set_next_\w+)\(.*\);$/$1(N);/mg;
	$s =~ s/(binary_upgrade_create_empty_extension\('crmpool', 'crmpool', false, '[0-9.]+', )'\{[0-9,]*\}'/$1'{OIDS}'/g;
	$s =~ s/^SET relfrozenxid = '\d+', relminmxid = '\d+'$/SET relfrozenxid = X, relminmxid = Y/mg;
	$s =~ s/^WHERE oid = '\d+';$/WHERE oid = N;/mg;
	# the next table id: past the ids each database gave, which differ by design (checked above)
	$s =~ s/^(SELECT pg_catalog\.setval\('crmpool\.managed_table_table_id_seq', )\d+(, true\);)$/$1N$2/mg;
	return $s;
}

sub same_text
{
	my ($got, $want, $what) = @_;
	if ($got ne $want)
	{
		my %w = map { $_ => 1 } split /\n/, $want;
		my %g = map { $_ => 1 } split /\n/, $got;
		diag("$what, only in the first: $_") for grep { !$w{$_} } sort keys %g;
		diag("$what, only in the second: $_") for grep { !$g{$_} } sort keys %w;
	}
	ok($got eq $want, $what);
}

# ---------------------------------------------------------------------------------------------
# 1. 0.1's SQL with the current library
# ---------------------------------------------------------------------------------------------
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', "CREATE EXTENSION crmpool VERSION '0.1'");
$node->safe_psql('old', $fill);
my $readers_01 = readers('old');
behaviour('old', '0.1 SQL');

# Every C function of 0.1's script ran with this library (trigger functions by the fill's writes).
my $unrun = $node->safe_psql('old', q{
	SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY 1)
	FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
	LEFT JOIN pg_stat_user_functions s ON s.funcid = p.oid
	WHERE p.pronamespace = 'crmpool'::regnamespace AND l.lanname = 'c' AND coalesce(s.calls, 0) = 0});
is($unrun, '', "every C function of 0.1's SQL ran with the current library");
my $nsyms = $node->safe_psql('old', q{SELECT count(*) FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
	WHERE p.pronamespace = 'crmpool'::regnamespace AND l.lanname = 'c'});
note("0.1's SQL names $nsyms C functions");

# What 0.1's SQL cannot give (no ALTER TABLE event trigger, no crmpool.check()) fails clearly.
is(outcome('old', "ALTER TABLE $tbl ALTER COLUMN last_contact TYPE bigint USING 0;
	SELECT crmpool.claim('$tbl', 33, 7)"), '42804',
	'0.1 SQL: a follow-up column changed to bigint is refused, not read as a timestamp');
my ($ret, $out, $err) = $node->psql('old', "$now BEGIN; DELETE FROM crmpool.rep_counter WHERE rep = 7;
	SELECT crmpool.release('$tbl', 31, 7); ROLLBACK;");
like($err, qr/ERROR:  crmpool has no counters for rep 7.*HINT:  .*Update the extension first \(ALTER EXTENSION crmpool UPDATE\)/s,
	'0.1 SQL: the CR013 hint says to update before crmpool.check()');
is(outcome('old', "ALTER TABLE $tbl RENAME COLUMN owner TO rep; SELECT crmpool.claim('$tbl', 33, 7)"), '42703',
	'0.1 SQL: a renamed owner column is not followed (42703, as in 0.1)');
# crmpool.assign() is PUBLIC's in 0.1: a plain write of an owner by any role is an assign
$node->safe_psql('old', "CREATE ROLE clerk; GRANT SELECT, UPDATE ON $tbl TO clerk");
is(outcome('old', "SET ROLE clerk; UPDATE $tbl SET owner = 8 WHERE id = 20; SELECT owner FROM $tbl WHERE id = 20"),
	'ok: 8', '0.1 SQL: a role may move an owned customer by a plain write (assign is PUBLIC)');

# what 0.1's library left behind for a temporary table it managed (0.2 refuses them)
$node->safe_psql('old', qq{
	INSERT INTO crmpool.managed_table VALUES ($gone, 'id', 'owner', NULL, NULL, NULL, NULL, '2026-01-02 00:00+00');
	INSERT INTO crmpool.rep_counter (rel, rep, owned) VALUES ($gone, 7, 1);
	INSERT INTO crmpool.ownership_event (rel, customer, seq, at, owner, how) OVERRIDING SYSTEM VALUE
	VALUES ($gone, 1, 100000, '2026-01-02 00:00+00', 7, 'claim');
	INSERT INTO crmpool.customer_lock VALUES ($gone, 1, 7, '2026-01-02 00:00+00');
	INSERT INTO crmpool.identity_key VALUES ($gone, 'p', '+8613800000000', 1)});

my $before = snapshot('old', 1);
my $leftovers = 0;
for my $rel (keys %$before)
{
	my @lines = split /\n/, $before->{$rel};
	my @kept = grep { !/^\($gone,/ } @lines;
	$leftovers += @lines - @kept;
	$before->{$rel} = join "\n", @kept;
}
is($leftovers, 5, 'rows of a table that no longer exists, before the update');

# ---------------------------------------------------------------------------------------------
# 2. ALTER EXTENSION crmpool UPDATE
# ---------------------------------------------------------------------------------------------
$node->safe_psql('old', 'ALTER EXTENSION crmpool UPDATE');
is($node->safe_psql('old', q{SELECT extversion FROM pg_extension WHERE extname = 'crmpool'}), '0.2', 'updated to 0.2');

# the update gives every managed table's row the (NULL) lock, owner-since and deleted columns
# (the readers list 0.1's columns of crmpool.managed_tables only)
$before->{'crmpool.managed_table'} =~ s/\)$/,,,)/mg;
my $after = snapshot('old', 1);
# 0.2 adds crmpool.rep_config (empty after the update) and rule_set's tenant and team (NULL; the
# snapshot leaves tenant out)
is($after->{'crmpool.rep_config'}, '', 'the update adds crmpool.rep_config, empty');
delete $after->{'crmpool.rep_config'};
# the update numbers the managed tables (the one left: 'scratch' was unmanaged), and the
# identity of crmpool.managed_table.table_id goes on after them
is($node->safe_psql('old', q{SELECT string_agg(rel::text || ':' || table_id, ',') FROM crmpool.managed_table}),
	'cust:1', 'the update gives each managed table an id');
is($after->{'crmpool.managed_table_table_id_seq'}, '1|t', 'the next id is 2');
delete $after->{'crmpool.managed_table_table_id_seq'};
# and the dictionary of text tenants (crmpool.tenant_name), empty, its sequence unused
is($after->{'crmpool.tenant_name'}, '', 'the update adds crmpool.tenant_name, empty');
is($after->{'crmpool.tenant_name_tenant_seq'}, '1|f', 'its sequence is unused');
delete @$after{'crmpool.tenant_name', 'crmpool.tenant_name_tenant_seq'};
# 0.2 adds pools: the update adopts every managed table's default pool and its pool column's
# values, dated the table's managed_at, as manage() does; no members yet
is($node->safe_psql('old', q{SELECT string_agg(rel::text || ':' || coalesce(pool, '(default)') || ':' || created_at,
	',' ORDER BY rel::text, pool NULLS FIRST) FROM crmpool.pool}),
	$node->safe_psql('old', q{SELECT string_agg(rel::text || ':' || p || ':' || managed_at, ',' ORDER BY rel::text, p)
	FROM crmpool.managed_table, unnest('{(default),east,west}'::text[]) p}),
	'the update adopts the pools of every managed table');
is($after->{'crmpool.pool_member'}, '', 'the update adds crmpool.pool_member, empty');
delete @$after{'crmpool.pool', 'crmpool.pool_member'};
# 0.2 adds distribution's cursors, log and pool order, all empty after the update
is($after->{"crmpool.$_"}, '', "the update adds crmpool.$_, empty")
  foreach ('distribute_cursor', 'distribute_log', 'pool_order');
delete @$after{'crmpool.distribute_cursor', 'crmpool.distribute_log', 'crmpool.pool_order'};
$after->{'crmpool.rule_set'} =~ s/,\)$/)/mg;
# the update keys 0.1's e-mails by their mailbox (sql/upgrade/0.1--0.2/72_email_keys.sql)
$before->{'crmpool.identity_key'} =~ s/,e,li\.ming\+crm\@gmail\.com,42\)/,e,"liming\@gmail.com li.ming+crm\@gmail.com",42)/;
$_->{'crmpool.identity_key'} = join "\n", sort split /\n/, $_->{'crmpool.identity_key'} for $before, $after;
$rows_compared += same($after, $before, 'row by row after the update');
# every row of 0.1 belongs to the one tenant 0 of a table without a tenant column
is( $node->safe_psql('old', q{
		SELECT string_agg(t, ',') FROM (
			SELECT 'rep_counter' AS t FROM crmpool.rep_counter WHERE tenant <> 0
			UNION ALL SELECT 'ownership_event' FROM crmpool.ownership_event WHERE tenant <> 0
			UNION ALL SELECT 'customer_lock' FROM crmpool.customer_lock WHERE tenant <> 0
			UNION ALL SELECT 'recycle_due' FROM crmpool.recycle_due WHERE tenant <> 0
			UNION ALL SELECT 'recycle_warning' FROM crmpool.recycle_warning WHERE tenant <> 0
			UNION ALL SELECT 'followup' FROM crmpool.followup WHERE tenant <> 0
			UNION ALL SELECT 'identity_key' FROM crmpool.identity_key WHERE tenant <> 0
			UNION ALL SELECT 'identity_name' FROM crmpool.identity_name WHERE tenant <> 0
			UNION ALL SELECT 'duplicate_warning' FROM crmpool.duplicate_warning WHERE tenant <> 0
			UNION ALL SELECT 'managed_table' FROM crmpool.managed_table WHERE tenant_column IS NOT NULL) x}),
	'', "the update keeps 0.1's rows under the tenant 0");
same(readers('old'), $readers_01, 'readers after the update');
# 0.2's readers end with the tenant: NULL on every row of a 0.1 table (no tenant column)
is($node->safe_psql('old', qq{SELECT string_agg(n || ':' || t, ' ' ORDER BY n) FROM (
		SELECT 'due' n, count(*) FILTER (WHERE tenant IS NULL) || '/' || count(*) t FROM crmpool.due('$tbl')
		UNION ALL SELECT 'warnings', count(*) FILTER (WHERE tenant IS NULL) || '/' || count(*) FROM crmpool.recycle_warnings('$tbl')
		UNION ALL SELECT 'dup_warnings', count(*) FILTER (WHERE tenant IS NULL) || '/' || count(*) FROM crmpool.duplicate_warnings('$tbl')
		UNION ALL SELECT 'groups', count(*) FILTER (WHERE tenant IS NULL) || '/' || count(*) FROM crmpool.duplicate_groups('$tbl')) s}),
	join(' ', map { my $n = () = ($readers_01->{$_->[1]} =~ /^/mg); $readers_01->{$_->[1]} eq '' ? "$_->[0]:0/0" : "$_->[0]:$n/$n" }
		(['due', 'due'], ['dup_warnings', 'duplicate_warnings'], ['groups', 'duplicate_groups'], ['warnings', 'recycle_warnings'])),
	'readers after the update: a tenant column, NULL for a table without one, on every row 0.1 listed');
is($node->safe_psql('old', "SELECT count(*) FROM crmpool.check('$tbl')"), '0', 'check() is clean after the update');
is($node->safe_psql('old', "SELECT string_agg(customer::text || ' ' || matched_on, ',') FROM crmpool.find_duplicates('$tbl', email => 'LiMing\@googlemail.com')"),
	'42 email', "updated: 0.1's e-mail key is found by its mailbox");
behaviour('old', 'updated');
is(outcome('old', "SET ROLE clerk; UPDATE $tbl SET owner = 8 WHERE id = 20"), 'CR011',
	'updated: a role that may not call assign() may no longer move an owned customer');
is(outcome('old', "ALTER TABLE $tbl RENAME COLUMN owner TO rep; SELECT crmpool.claim('$tbl', 33, 7);
	SELECT owner_column FROM crmpool.managed_tables"), 'ok: rep', 'updated: a renamed owner column is followed');
is(outcome('old', "ALTER TABLE $tbl ALTER COLUMN last_contact TYPE bigint USING 0"), '42804',
	'updated: the type change is refused by the ALTER TABLE event trigger');

# The same as a fresh 0.2 database filled the same way.
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION crmpool');
$node->safe_psql('fresh', $fill);
$node->safe_psql('fresh', "GRANT SELECT, UPDATE ON $tbl TO clerk");
# The rolled-back claims of the checks above took numbers from crmpool's sequences in old
# (sequences are not transactional): both databases continue from their highest number.
for my $db ('old', 'fresh')
{
	$node->safe_psql($db, q{
		SELECT setval('crmpool.ownership_event_seq_seq', max(seq)) FROM crmpool.ownership_event;
		SELECT setval('crmpool.recycle_warning_seq_seq', max(seq)) FROM crmpool.recycle_warning;
		SELECT setval('crmpool.followup_seq_seq', max(seq)) FROM crmpool.followup;
		SELECT setval('crmpool.duplicate_warning_id_seq', max(id)) FROM crmpool.duplicate_warning});
}
# A table's id is never given again: the fresh database numbered 'scratch' (2) before the fill
# unmanaged it, the update only the tables it found.  Both give the next table an unused id.
my ($snap_old, $snap_fresh) = (snapshot('old'), snapshot('fresh'));
is($snap_old->{'crmpool.managed_table_table_id_seq'} . ' ' . $snap_fresh->{'crmpool.managed_table_table_id_seq'},
	'1|t 2|t', 'the next table id: past every id given');
delete $_->{'crmpool.managed_table_table_id_seq'} for $snap_old, $snap_fresh;
$rows_compared += same($snap_old, $snap_fresh, 'updated 0.1 against fresh 0.2, row by row');
same(readers('old'), readers('fresh'), 'updated 0.1 against fresh 0.2, readers');
same_text(dump_schema('old'), dump_schema('fresh'), 'pg_dump --schema-only: updated 0.1 equals fresh 0.2');
my $bu_old = dump_schema('old', '--binary-upgrade');
same_text($bu_old, dump_schema('fresh', '--binary-upgrade'),
	'pg_dump --schema-only --binary-upgrade (every member object): updated 0.1 equals fresh 0.2');
$objects_compared = () = $bu_old =~ /^ALTER EXTENSION crmpool ADD /mg;
cmp_ok($objects_compared, '>', 50, 'the binary-upgrade dump lists the extension\'s members');

# ---------------------------------------------------------------------------------------------
# 3. pg_dump / restore of the filled 0.2 database
# ---------------------------------------------------------------------------------------------
my $base = $node->basedir;
my $src = snapshot('old');
my $src_readers = readers('old');
my %triggers_sql = (
	triggers => "SELECT tgrelid::regclass, tgname, tgenabled, tgfoid::regproc, pg_get_triggerdef(oid)
		FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2",
	event_triggers => 'SELECT evtname, evtevent, evtenabled, evtfoid::regproc, evttags FROM pg_event_trigger ORDER BY 1',
	extension => q{SELECT extversion, extconfig::regclass[], extcondition FROM pg_extension WHERE extname = 'crmpool'});
my %src_triggers = map { $_ => $node->safe_psql('old', $triggers_sql{$_}) } keys %triggers_sql;

$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('old'), '-f', "$base/old.dump" ], 'pg_dump -Fc');
$node->command_ok([ 'pg_dump', '-Fp', '-d', $node->connstr('old'), '-f', "$base/old.sql" ], 'pg_dump -Fp');
$node->command_ok([ 'pg_dump', '-Fd', '-j', '2', '-d', $node->connstr('old'), '-f', "$base/old.dir" ], 'pg_dump -Fd -j 2');
my %restore = (
	restored_custom => [ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored_custom'), "$base/old.dump" ],
	restored_plain => [ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored_plain'), '-f', "$base/old.sql" ],
	restored_dir => [ 'pg_restore', '--exit-on-error', '-j', '2', '-d', $node->connstr('restored_dir'), "$base/old.dir" ]);
for my $db (sort keys %restore)
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->command_ok($restore{$db}, "restore into $db");
	$rows_compared += same(snapshot($db), $src, "$db, row by row");
	same(readers($db), $src_readers, "$db, readers");
	same({ map { $_ => $node->safe_psql($db, $triggers_sql{$_}) } keys %triggers_sql }, \%src_triggers,
		"$db, triggers and extension");
	is($node->safe_psql($db, "SELECT count(*) FROM crmpool.check('$tbl')"), '0', "$db: check() is clean");
	behaviour($db, $db);
}

note("rows compared: $rows_compared; extension member objects compared: $objects_compared");
$node->stop;
done_testing();
