# The normalizers give the same keys in every database, whatever its encoding and LC_CTYPE:
# keys stored by one database are compared with keys computed in another, and pg_trgm's
# behaviour (no Chinese at all under LC_CTYPE=C) is what crmpool must not repeat.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('locale');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'crmpool'");
$node->start;

# UTF-8 byte strings, all representable in GB2312 so that an EUC_CN database can hold them.
my @inputs = (
	'北京华信科技有限公司',
	'华信科技（北京）有限公司',
	'ＨＵＡＸＩＮ Ｔｅｃｈ Ｃｏ．，Ｌｔｄ．',
	'Huaxin Tech Co., Ltd.',
	'上海市华信网络科技有限公司广州分公司',
	'＋８６　１３８－００１３－８０００',
	'０１０－８８８８　６６６６　转　１２３',
	'ＣＡＯ．ＢＩＮ＠ＷＥＩＫＥＳＥＮ。ＣＯＭ',
	'ΑΒΓ ΔΕΛΤΑ',
	'ü.lv@Example.COM',
	# a homophone slip and the pinyin name of 华信: the same match key (company_key)
	'北京骅信科技有限公司',
	'Beijing Huaxin Technology Co., Ltd.');
my $array = join(', ', map { "'$_'" } @inputs);
my $keys = qq{
SET client_encoding = 'UTF8';
SELECT pg_catalog.concat_ws(' | ', v, crmpool.normalize_phone(v), crmpool.normalize_email(v),
                            crmpool.company_core(v), crmpool.company_key(v), crmpool.name_bigrams(v)::text,
                            crmpool.name_similarity(v, '华信科技（北京）有限公司'),
                            crmpool.company_parts(v)::text)
FROM unnest(ARRAY[$array]) WITH ORDINALITY AS t(v, n)
ORDER BY n;
};

my %dbs = (
	utf8_c    => "ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'",
	utf8_cutf => "ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'",
	euc_cn    => "ENCODING 'EUC_CN' LC_COLLATE 'C' LC_CTYPE 'C'",
	sql_ascii => "ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'");
my %result;
foreach my $db (sort keys %dbs)
{
	my ($ret, $out, $err) =
	  $node->psql('postgres', "CREATE DATABASE $db TEMPLATE template0 $dbs{$db}");
	if ($ret != 0)
	{
		note "skipping $db: $err";
		next;
	}
	$node->safe_psql($db, 'CREATE EXTENSION crmpool');
	$result{$db} = $node->safe_psql($db, $keys);
}

# Traditional characters (not in GB2312: not in the EUC_CN database) fold to simplified ones.
my $traditional = qq{
SET client_encoding = 'UTF8';
SELECT pg_catalog.concat_ws(' | ', v, crmpool.company_core(v), crmpool.company_key(v),
                            crmpool.name_similarity(v, '华信科技（北京）有限公司'))
FROM unnest(ARRAY['北京華信科技有限公司', '華信電子（廣州）有限公司']) WITH ORDINALITY AS t(v, n)
ORDER BY n;
};
my %trad = map { $_ => $node->safe_psql($_, $traditional) } grep { $_ ne 'euc_cn' } keys %result;
like($trad{utf8_c}, qr/^北京華信科技有限公司 \| 华信 \| huaxin \| 1$/m,
	'traditional characters folded in LC_CTYPE=C');
foreach my $db (grep { $_ ne 'utf8_c' } sort keys %trad)
{
	is($trad{$db}, $trad{utf8_c}, "same traditional folding in $db as in UTF8 with LC_CTYPE=C");
}

my $ref = $result{utf8_c};
like($ref, qr/\| \+8613800138000 \|/, 'full-width phone folded in LC_CTYPE=C');
like($ref, qr/\| cao\.bin\@weikesen\.com \|/, 'full-width e-mail folded in LC_CTYPE=C');
like($ref, qr/^北京华信科技有限公司 \| 华信 \| huaxin \| \{-?\d+\} \| 1 \|/m,
	'Chinese company core and its pinyin key in LC_CTYPE=C');
like($ref, qr/^北京骅信科技有限公司 \| 骅信 \| huaxin \| \{-?\d+\} \| 0\.9 \|/m,
	'a homophone slip matches in LC_CTYPE=C');
like($ref, qr/^ΑΒΓ ΔΕΛΤΑ \| αβγδελτα \|/m, 'Greek case folded in LC_CTYPE=C');

foreach my $db (grep { $_ ne 'utf8_c' } sort keys %result)
{
	is($result{$db}, $ref, "same keys in $db as in UTF8 with LC_CTYPE=C");
}

# The check above means something only if the locales really differ: in C.UTF-8 lower()
# folds full-width letters, in C it does not.
SKIP:
{
	skip 'no C.UTF-8 locale', 1 unless exists $result{utf8_cutf};
	isnt(
		$node->safe_psql('utf8_cutf', "SET client_encoding = 'UTF8'; SELECT lower('ＡＢＣ')"),
		$node->safe_psql('utf8_c', "SET client_encoding = 'UTF8'; SELECT lower('ＡＢＣ')"),
		'lower() itself depends on LC_CTYPE');
}

$node->stop;
done_testing();
