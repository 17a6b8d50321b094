# An installation of the last release, updated with ALTER EXTENSION crmpool UPDATE, has exactly
# the objects of a fresh install of the current version: every member object with its
# definition, columns, indexes, constraints, triggers, comments, privileges and dump settings.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'crmpool'");
$node->start;

my $current = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'crmpool'});
my @older = split /\n/, $node->safe_psql('postgres', qq{
	SELECT version FROM pg_available_extension_versions
	WHERE name = 'crmpool' AND version <> '$current' ORDER BY version});
ok(@older > 0, "an older release to update from (current $current)");

# Everything the extension owns, each as one line of text that a difference would change.
my $objects = q{
	WITH members AS (
		SELECT d.classid, d.objid
		FROM pg_depend d JOIN pg_extension x ON d.refobjid = x.oid
		WHERE d.refclassid = 'pg_extension'::regclass AND x.extname = 'crmpool' AND d.deptype = 'e')
	SELECT pg_describe_object(classid, objid, 0) || ' ' || coalesce(
		CASE classid
		WHEN 'pg_proc'::regclass THEN pg_get_functiondef(objid) || coalesce(
			(SELECT array_to_string(proacl, ',') FROM pg_proc WHERE oid = objid), '')
		WHEN 'pg_class'::regclass THEN (
			SELECT relkind::text || ' ' || coalesce(array_to_string(reloptions, ','), '') || ' '
				|| coalesce(array_to_string(relacl, ','), '') || ' '
				|| coalesce(obj_description(c.oid, 'pg_class'), '') || ' '
				|| coalesce(pg_get_viewdef(c.oid), '') || ' ' || coalesce((
					SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' '
						|| attnotnull || ' ' || attidentity::text || ' '
						|| coalesce(pg_get_expr(adbin, adrelid), ''), ', ' ORDER BY attnum)
					FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
					WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped), '') || ' '
				|| coalesce((SELECT string_agg(pg_get_indexdef(indexrelid), ', ' ORDER BY pg_get_indexdef(indexrelid))
					FROM pg_index WHERE indrelid = c.oid), '') || ' '
				|| coalesce((SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ', ' ORDER BY conname)
					FROM pg_constraint WHERE conrelid = c.oid), '') || ' '
				|| coalesce((SELECT string_agg(pg_get_triggerdef(oid), ', ' ORDER BY tgname)
					FROM pg_trigger WHERE tgrelid = c.oid AND NOT tgisinternal), '') || ' '
				|| coalesce((SELECT array_to_string(extcondition, ',') FROM pg_extension
					WHERE extname = 'crmpool' AND c.oid = ANY (extconfig)), '-')
			FROM pg_class c WHERE c.oid = objid)
		WHEN 'pg_event_trigger'::regclass THEN (
			SELECT evtevent || ' ' || evtfoid::regproc || ' ' || coalesce(array_to_string(evttags, ','), '')
			FROM pg_event_trigger WHERE oid = objid)
		ELSE '' END, '')
	FROM members ORDER BY 1
};

for my $old (@older)
{
	$node->safe_psql('postgres', "CREATE DATABASE updated_$old" =~ s/\./_/gr);
	my $db = "updated_$old" =~ s/\./_/gr;
	$node->safe_psql($db, "CREATE EXTENSION crmpool VERSION '$old'");
	$node->safe_psql($db, 'ALTER EXTENSION crmpool UPDATE');
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'crmpool'}),
		$current, "$old updates to $current");
	$node->safe_psql('postgres', 'DROP DATABASE IF EXISTS fresh');
	$node->safe_psql('postgres', 'CREATE DATABASE fresh');
	$node->safe_psql('fresh', 'CREATE EXTENSION crmpool');
	my $want = $node->safe_psql('fresh', $objects);
	my $got = $node->safe_psql($db, $objects);
	ok(length($want) > 1000, 'the object list is not empty');
	if ($got ne $want)
	{
		# the lines that differ, to see what the upgrade script missed
		my %w = map { $_ => 1 } split /\n/, $want;
		my %g = map { $_ => 1 } split /\n/, $got;
		diag("only after update: $_") for grep { !$w{$_} } sort keys %g;
		diag("only in fresh install: $_") for grep { !$g{$_} } sort keys %w;
	}
	ok($got eq $want, "$old updated to $current has the objects of a fresh $current install");
}

$node->stop;
done_testing();
