# The oracle: eight clients race every ownership path for a while, then the bookkeeping must
# agree with the data, exactly.
#
# pgbench runs a weighted mix of one-operation transactions on random customers and reps:
# claim, claim_many, release, assign, transfer, lock, unlock, and plain UPDATE / INSERT / DELETE
# of the owner (checked by the trigger under crmpool.direct_writes = enforce), single-row and
# set-based (several customers of several reps in one statement), some of them at
# REPEATABLE READ or SERIALIZABLE with retries.  Every operation goes through oracle_try()
# (001_oracle_setup.sql), which records crmpool's refusals (class CR) and raises anything else,
# so an unexpected error aborts its client and fails the run.  pgbench also retries deadlocks,
# so the server log is searched for them; retried serialization failures are correct answers.
#
# It runs twice: on a table without tenants, and on the same table managed with a tenant
# column (three tenants, the same rep ids in each), where every count, cap, lock and daily
# limit must hold per tenant (001_oracle_setup.sql, oracle.tenants).  A quarter of the
# customers wait in pool "team", which names five members: no claim, claim_next or distribute
# may give one of them to anyone else, and round_robin must hand them out in the members' turn
# order, exactly, although eight clients distribute at once.
use strict;
use warnings;

use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $clients = 8;
my $per_client = 600;

my $node = PostgreSQL::Test::Cluster->new('oracle');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'crmpool'\n");
$node->start;

foreach my $variant ('plain', 'tenants')
{
	my $db = "oracle_$variant";
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION crmpool');
	$node->safe_psql($db,
		'SET oracle.tenants = ' . ($variant eq 'tenants' ? 'on' : 'off') . ";\n"
		  . slurp_file(dirname(__FILE__) . '/001_oracle_setup.sql'));
	my $log_offset = -s $node->logfile;

	# One pgbench script per operation and isolation level, named "name@weight"; pgbench retries
	# the serialization failures of the REPEATABLE READ and SERIALIZABLE ones.
	my %weights = (
		claim => 12, claim_pool => 12, claim_many => 6, release => 10, assign => 6,
		transfer => 8, lock => 8, unlock => 4, update => 6, update_null => 4,
		insert => 5, delete => 3, deal => 4,
		multi_release => 3, multi_assign => 3, multi_assign_capped => 2, multi_deal => 2, multi_insert => 2,
		distribute => 3, claim_next => 4);
	my @mixes = (
		[ '', undef, \%weights ],
		[ 'rr_', 'REPEATABLE READ', { claim => 6, transfer => 3, release => 3 } ],
		[ 'ser_', 'SERIALIZABLE', { claim => 3, claim_many => 2 } ]);
	my %scripts;
	foreach my $mix (@mixes)
	{
		my ($prefix, $level, $mix_weights) = @$mix;
		foreach my $op (keys %$mix_weights)
		{
			my $sql = "SELECT oracle_try('$op', :c, :r);\n";
			$sql = "BEGIN ISOLATION LEVEL $level;\n${sql}END;\n" if defined $level;
			$scripts{"001_oracle_${variant}_$prefix$op\@$mix_weights->{$op}"} =
			  "\\set c random(1, 2100)\n\\set r random(1, 20)\n$sql";
		}
}

my $total = $clients * $per_client;
$node->pgbench(
	"-n -c $clients -j 2 -t $per_client --max-tries=50",
	0,
	[
		qr{actually processed: $total/$total},
		qr{number of failed transactions: 0 \(}
	],
	[qr{^$}],
	"$variant: concurrent clients run every ownership path without an unexpected error",
	\%scripts,
	$db);

unlike(slurp_file($node->logfile, $log_offset), qr/deadlock detected/,
	"$variant: no deadlock, not even a retried one");

# Returns the rows of a query as text, for comparing with '' (no offending row).
my $rows = sub {
	my ($sql) = @_;
	return $node->safe_psql($db, $sql);
};

# The run cannot pass vacuously: every operation succeeded somewhere, and every refusal
# happened.
my $outcomes = $rows->(
	"SELECT op || ':' || code || ' ' || count(*) FROM oracle_outcome GROUP BY op, code ORDER BY 1");
my %seen;
foreach (split /\n/, $outcomes)
{
	my ($op, $code, $count) = /^(\w+):(\w+) (\d+)$/ or die "bad outcome line $_";
	$seen{"$op:$code"} += $count;
	$seen{$code} += $count;
}
# multi_assign_capped gives to reps whose caps the others fill: it may be refused every time,
# which is what it is there for (the invariants below check what it left)
ok($seen{"$_:ok"}, "$variant: some $_ succeeded")
  foreach (sort(grep { $_ ne 'multi_assign_capped' } keys %weights));
ok((grep { /^multi_assign_capped:/ } keys %seen), "$variant: multi_assign_capped ran")
  if $weights{multi_assign_capped};
ok($seen{$_}, "$variant: refusal $_ happened") foreach (
	'CR002', 'CR003', 'CR004', 'CR005', 'CR006', 'CR007', 'CR008', 'CR012',
	'already_owned', 'private_cap_reached', 'daily_limit_reached');
note "$variant outcomes:\n$outcomes";
note "serialization failures retried: "
  . (() = slurp_file($node->logfile, $log_offset) =~ /could not serialize access/g);

# (1) The ledger's last event of every customer is its current owner: no customer has two
# owners, an open spell is the current owner, and a deleted customer's history ends with it.
is( $rows->(
		q{WITH last AS (
			SELECT DISTINCT ON (customer) customer, owner, how
			FROM crmpool.ownership_event WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customers'::regclass)
			ORDER BY customer, seq DESC)
		  SELECT coalesce(c.id, l.customer) || ': ' || coalesce(c.owner_id::text, 'pool')
				 || ' vs ' || coalesce(l.owner::text, 'pool') || ' ' || coalesce(l.how, 'no event')
		  FROM customers c FULL JOIN last l ON l.customer = c.id
		  WHERE (c.id IS NULL AND l.how <> 'delete')
			 OR l.customer IS NULL
			 OR (c.id IS NOT NULL AND (l.owner IS DISTINCT FROM c.owner_id OR l.how = 'delete'))
		  ORDER BY 1 LIMIT 10}),
	'',
	"$variant: the last ownership event of every customer is its owner now");
is( $rows->(
		q{SELECT c.id FROM customers c
		  WHERE c.owner_id IS DISTINCT FROM
				(SELECT h.owner FROM crmpool.history('customers', c.id) h WHERE h.until IS NULL)
		  ORDER BY 1 LIMIT 10}),
	'',
	"$variant: the open spell of crmpool.history() is the current owner");

# (2) Every counter equals count(*).
is( $rows->(
		q{WITH truth AS (
			SELECT oracle_tenant(id) AS tenant, owner_id AS rep, count(*) AS owned,
				   count(*) FILTER (WHERE has_deal) AS with_deal
			FROM customers WHERE owner_id IS NOT NULL GROUP BY 1, 2),
		  locks AS (
			SELECT tenant, rep, count(*) AS locked FROM crmpool.customer_lock
			WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customers'::regclass) GROUP BY 1, 2),
		  claims AS (
			SELECT tenant, owner AS rep, count(*) AS claims FROM crmpool.ownership_event
			WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customers'::regclass) AND how = 'claim' AND at::date = current_date GROUP BY 1, 2),
		  expected AS (
			SELECT tenant, rep, coalesce(t.owned, 0) AS owned, coalesce(k.locked, 0) AS locked,
				   coalesce(t.with_deal, 0) AS with_deal, coalesce(c.claims, 0) AS claims_today
			FROM truth t FULL JOIN locks k USING (tenant, rep) FULL JOIN claims c USING (tenant, rep)),
		  loads AS (
			SELECT t.tenant, l.* FROM (SELECT DISTINCT oracle_tenant(g) AS tenant
									   FROM generate_series(0, 2) g) t,
				 crmpool.rep_load('customers', oracle_tenant_arg(t.tenant)) l)
		  SELECT coalesce(e.tenant, l.tenant) || '/' || coalesce(e.rep, l.rep) || ': '
				 || e::text || ' vs ' || l::text
		  FROM expected e FULL JOIN loads l USING (tenant, rep)
		  WHERE (e.owned, e.locked, e.with_deal, e.claims_today)
				IS DISTINCT FROM (l.owned, l.locked, l.with_deal, l.claims_today)
		  ORDER BY 1}),
	'',
	"$variant: rep_load of every tenant: owned, locked, with_deal and claims_today equal count(*)");
is( $rows->(
		q{SELECT k.customer FROM crmpool.customer_lock k LEFT JOIN customers c ON c.id = k.customer
		  WHERE k.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customers'::regclass) AND c.owner_id IS DISTINCT FROM k.rep}),
	'',
	"$variant: every lock is held by the current owner");

# (3) Caps.  A rep's events are all recorded under its counter row lock, so replaying them in
# seq order gives its exact count after each statement: no statement in which the rep gains
# may end above the private cap (reps adopted above it may keep what they had, but gain nothing
# until below it).  A statement's counter changes are applied at once, so the count is judged
# after its last event (its events share the transaction and the time): a set-based UPDATE
# that gives a rep at the cap one customer and takes another records the gain first, and the
# rep is never over the cap.
is( $rows->(
		q{WITH ev AS (
			SELECT seq, tenant, owner, how, xmin::text AS tx, at,
				   lag(owner) OVER (PARTITION BY tenant, customer ORDER BY seq) AS prev
			FROM crmpool.ownership_event WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customers'::regclass)),
		  delta AS (
			SELECT seq, tenant, owner AS rep, 1 AS d, how, tx, at FROM ev WHERE owner IS NOT NULL
			UNION ALL
			SELECT seq, tenant, prev, -1, how, tx, at FROM ev WHERE prev IS NOT NULL),
		  run AS (
			SELECT tenant, rep, seq, d, how,
				   sum(d) OVER (PARTITION BY tenant, rep ORDER BY seq, d) AS owned,
				   row_number() OVER (PARTITION BY tenant, rep, tx, at ORDER BY seq DESC, d DESC) AS from_last,
				   bool_or(d = 1 AND how <> 'adopt') OVER (PARTITION BY tenant, rep, tx, at) AS gained
			FROM delta)
		  SELECT r.tenant || '/' || r.rep || ' owned ' || r.owned || ' after ' || r.how || ' #' || r.seq
		  FROM run r
		  WHERE r.from_last = 1 AND r.gained
			AND r.owned > (crmpool.rules('customers', NULL, r.rep) ->> 'private_cap')::int
		  ORDER BY r.seq LIMIT 10}),
	'',
	"$variant: no gain ever took a rep over its private cap in its tenant");
is( $rows->(
		q{SELECT t.tenant || '/' || l.rep
		  FROM (SELECT DISTINCT oracle_tenant(g) AS tenant FROM generate_series(0, 2) g) t
			   CROSS JOIN crmpool.rep_load('customers', oracle_tenant_arg(t.tenant)) l
			   LEFT JOIN oracle_adopted a ON a.tenant = t.tenant AND a.rep = l.rep
		  WHERE l.owned > greatest((crmpool.rules('customers', NULL, l.rep) ->> 'private_cap')::int,
								   coalesce(a.owned, 0))
			 OR l.locked > (crmpool.rules('customers', NULL, l.rep) ->> 'lock_cap')::int}),
	'',
	"$variant: no rep ends above its private cap (or adopted count) or its lock cap in any tenant");

# (4) History replays.  Events of one customer are serialized by its row lock, so their times
# rise with seq; owner_at() at each event's time is that event's owner, and just before it the
# previous one's.  Checked on the 200 customers with the most events.
$rows->(
	q{CREATE TABLE oracle_sample AS
	  SELECT customer, oracle_tenant_arg(min(tenant)) AS tenant FROM crmpool.ownership_event
	  WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customers'::regclass)
	  GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 200});
is( $rows->(
		q{WITH ev AS (
			SELECT e.customer, s.tenant, e.seq, e.at, e.owner,
				   lag(e.at) OVER w AS prev_at, lag(e.owner) OVER w AS prev_owner,
				   lead(e.at) OVER w AS next_at
			FROM crmpool.ownership_event e JOIN oracle_sample s USING (customer)
			WHERE e.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customers'::regclass) WINDOW w AS (PARTITION BY e.customer ORDER BY e.seq))
		  SELECT customer || ' #' || seq FROM ev
		  WHERE at < prev_at
			 OR (coalesce(next_at > at, true)
				 AND crmpool.owner_at('customers', customer, at, tenant) IS DISTINCT FROM owner)
			 OR (prev_at < at AND crmpool.owner_at('customers', customer, at - interval '1 microsecond',
												   tenant) IS DISTINCT FROM prev_owner)
		  ORDER BY 1 LIMIT 10}),
	'',
	"$variant: owner_at() replays every event of the busiest customers");
is( $rows->(
		q{WITH spell AS (
			SELECT s.customer, h.n, h.owner, h.since, h.until, h.how_ended,
				   lead(h.since) OVER w AS next_since, count(*) OVER (PARTITION BY s.customer) AS spells
			FROM oracle_sample s,
				 crmpool.history('customers', s.customer, s.tenant)
					WITH ORDINALITY h(owner, since, until, how_gained, how_ended, actor, n)
			WINDOW w AS (PARTITION BY s.customer ORDER BY h.n))
		  SELECT customer || ' spell ' || n FROM spell
		  WHERE until < since
			 OR next_since < until
			 OR (until IS NULL) <> (how_ended IS NULL)
			 OR (until IS NULL AND n < spells)
			 OR (how_ended IN ('transfer', 'assign') AND until IS DISTINCT FROM next_since)
			 OR (how_ended IN ('release', 'delete') AND next_since <= until)
		  ORDER BY 1 LIMIT 10}),
	'',
	"$variant: history() spells are ordered and never overlap; a handover starts the next as it ends one");

# (4b) Distribution: every hand-out in the history is in crmpool.distribute_log (rep and mode)
# and the other way round; each pool's cursor counted exactly one turn per round_robin or
# least_busy hand-out, although eight clients distributed at once.
is( $rows->(
		q{(SELECT customer, owner, split_part(how, ':', 2) FROM crmpool.ownership_event
		   WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customers'::regclass) AND how LIKE 'distribute:%'
		   EXCEPT ALL SELECT customer, rep, mode FROM crmpool.distribute_log)
		  UNION ALL
		  (SELECT customer, rep, mode FROM crmpool.distribute_log
		   EXCEPT ALL SELECT customer, owner, split_part(how, ':', 2) FROM crmpool.ownership_event
		   WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customers'::regclass) AND how LIKE 'distribute:%')}),
	'',
	"$variant: every distribution is in the history and the distribution log alike");
is( $rows->(
		q{SELECT c.tenant || ': ' || c.turns || ' turns' FROM crmpool.distribute_cursor c
		  WHERE c.turns <> (SELECT count(*) FROM crmpool.distribute_log l
							WHERE l.tenant = c.tenant AND l.table_id = c.table_id AND l.pool IS NOT DISTINCT FROM c.pool
							  AND l.mode IN ('round_robin', 'least_busy'))}),
	'',
	"$variant: each cursor counted one turn per round_robin or least_busy hand-out");

# (4c) Pools with members.  No customer of pool "team" was ever claimed (claim, claim_many,
# claim_next) or distributed to a rep who is not a member; the pool of every customer is still
# the one it was created in (nothing here moves customers between pools).
is( $rows->(
		q{SELECT customer || ' to rep ' || owner || ' by ' || how || ' #' || seq
		  FROM crmpool.ownership_event
		  WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customers'::regclass) AND (how = 'claim' OR how LIKE 'distribute:%')
			AND oracle_pool(customer) = 'team' AND owner <> ALL (oracle_team())
		  ORDER BY seq LIMIT 10}),
	'',
	"$variant: every claim and hand-out of a pool with members went to a member");
is( $rows->(q{SELECT id FROM customers WHERE pool IS DISTINCT FROM oracle_pool(id) LIMIT 10}),
	'', "$variant: every customer is in the pool it was created in");
# ... and the check can fail: members claimed, distributed and grabbed from "team", and
# others were refused there (CR012 above).
is( $rows->(
		q{SELECT string_agg(k, ' ' ORDER BY k) FROM (
			SELECT DISTINCT CASE WHEN how = 'claim' THEN 'claim' ELSE 'distribute' END AS k
			FROM crmpool.ownership_event
			WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customers'::regclass) AND (how = 'claim' OR how LIKE 'distribute:%')
			  AND oracle_pool(customer) = 'team') s}),
	'claim distribute',
	"$variant: customers of pool \"team\" were claimed and distributed");

# (4d) Round robin in "team", whose members no cap or cooldown passes over: in the order the
# hand-outs of each tenant's pool took their turns (oracle_handout.seq), each round_robin
# hand-out goes to the member after the previous hand-out's rep in join order (least_busy moves
# the same cursor), and the first to the first member.  So its spread is at most one per
# member between two least_busy hand-outs.
my $turns = $rows->(
	q{WITH t AS (
		SELECT h.seq, oracle_tenant(h.customer) AS tenant, h.mode,
			   array_position(oracle_team(), h.rep) AS pos,
			   lag(array_position(oracle_team(), h.rep)) OVER (
				   PARTITION BY oracle_tenant(h.customer) ORDER BY h.seq) AS prev
		FROM oracle_handout h
		WHERE h.pool = 'team' AND h.mode IN ('round_robin', 'least_busy'))
	  SELECT count(*) FILTER (WHERE mode = 'round_robin') || ' '
			 || count(*) FILTER (WHERE mode = 'round_robin' AND pos IS DISTINCT FROM coalesce(prev % 5 + 1, 1))
	  FROM t});
my ($rr_turns, $wrong_turns) = split / /, $turns;
is($wrong_turns, '0', "$variant: every round_robin hand-out of \"team\" took the next member's turn");
cmp_ok($rr_turns, '>=', 10, "$variant: round_robin handed out customers of \"team\" ($rr_turns)");
note "$variant: round_robin hand-outs of team per member: "
  . $rows->(
	q{SELECT string_agg(rep || ':' || n, ' ' ORDER BY rep) FROM (
		SELECT rep, count(*) AS n FROM oracle_handout WHERE pool = 'team' AND mode = 'round_robin'
		GROUP BY rep) s});

# (5) Daily limits, from the ledger: successful claims per rep and day.
is( $rows->(
		q{SELECT tenant || '/' || owner || ' on ' || at::date || ': ' || count(*)
		  FROM crmpool.ownership_event
		  WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customers'::regclass) AND how = 'claim'
		  GROUP BY tenant, owner, at::date
		  HAVING count(*) > (crmpool.rules('customers', NULL, owner) ->> 'daily_claim_limit')::int}),
	'',
	"$variant: no rep claimed more than its daily limit on any day in its tenant");

# the tenant run really ran in three tenants, with the same reps in each
is( $rows->(q{SELECT count(DISTINCT tenant) FROM crmpool.rep_counter WHERE owned > 0}),
	$variant eq 'tenants' ? '3' : '1',
	"$variant: counters kept under " . ($variant eq 'tenants' ? 'three tenants' : 'one tenant'));
}

$node->stop;
done_testing();
