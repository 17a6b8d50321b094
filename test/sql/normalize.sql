-- Duplicate-detection normalizers: normalize_phone, normalize_email, company_core,
-- company_key, company_parts, name_similarity, name_bigrams, and their settings.
-- Results must not depend on the database's locale or encoding: nothing here prints a
-- locale-dependent value, rows are ordered by their position in the input, and the display
-- encoding is fixed so that psql aligns the same way in a UTF8 and an SQL_ASCII database.
SET client_encoding = 'UTF8';

-- The functions are IMMUTABLE and PARALLEL SAFE; all but normalize_phone (whose second
-- argument defaults to NULL) are STRICT.
SELECT p.oid::regprocedure AS function, p.provolatile, p.proparallel, p.proisstrict
FROM pg_catalog.pg_proc p
WHERE p.pronamespace = 'crmpool'::regnamespace
  AND p.proname IN ('normalize_phone', 'normalize_email', 'company_core', 'company_key',
                    'company_parts', 'name_similarity', 'name_bigrams')
ORDER BY p.proname COLLATE "C";

-- Settings: defaults, validation, and superuser-only (a rep must not switch detection off).
SHOW crmpool.default_country;
SHOW crmpool.name_threshold;
SET crmpool.default_country = '+86';
SET crmpool.default_country = '0086';
SET crmpool.default_country = '';
SET crmpool.default_country = '1234';
SET crmpool.name_threshold = 1.5;
SET crmpool.name_threshold = -0.1;
CREATE ROLE regress_crmpool_rep;
SET ROLE regress_crmpool_rep;
SET crmpool.name_threshold = 1;
SET crmpool.default_country = '1';
RESET ROLE;
DROP ROLE regress_crmpool_rep;

--
-- Phones: one canonical form per line, E.164 with ;ext=.
--
SELECT n, v AS input, crmpool.normalize_phone(v) AS canonical
FROM unnest(ARRAY[
    -- one mobile written every way
    '13800138000', '+86 138-0013-8000', '0086 13800138000', '(86)138 0013 8000',
    '86-138-0013-8000', '(+86) 138 0013 8000', '138.0013.8000', '＋８６　１３８－００１３－８０００',
    -- landlines keep the area code, lose the trunk 0, with or without it written
    '010-8888 6666', '(010)88886666', '10-88886666', '+86 10 8888 6666', '+86 (0)10 8888 6666',
    '+86 010 8888 6666', '0086-10-88886666', '86 10 88886666', '0755-5332 6802', '(0755) 5332-6802',
    '+8675553326802', '021 6234 5678', '0571.2818.2275',
    -- extensions are part of the identity
    '010-8888 6666 转 123', '010-88886666 ext. 123', '010-88886666 x123', '010-88886666 #123',
    '010-88886666分机123', '+861088886666;ext=123', '010-8888-6666-123', '+86 10 8888 6666-123',
    '010-8888 6666 转', '010-8888 6666 x',
    -- a local number without area code: bare digits, equal only to the same bare number
    '8888 6666', '8888-666',
    -- labels and notes around the number; the first number counts
    'Tel: 021-6234 5678, Fax: 021-6234 5679', '手机：139 0000 1111 / 138 0000 2222',
    '13800138000（微信同号）', 'fax 0755 5332 6802', 'C++ 13800138000',
    -- other countries
    '+1 (212) 555-1234', '001 212 555 1234', '+44 (0)20 7946 0958', '+44 020 7946 0958',
    '+39 06 1234 5678', '+852 2345 6789', '400-820-8820',
    -- no phone number in it
    'abc', '', '   ', '12345', '+', 'x123', '（）', '138001380001380013800013800',
    '+86 138 0013 8000 1380 0138 000'
]) WITH ORDINALITY AS t(v, n)
ORDER BY n;

-- The default country: argument, then setting; the argument is validated like the setting.
SELECT crmpool.normalize_phone('212-555-1234', '1') AS us,
       crmpool.normalize_phone('1 212 555 1234', '1') AS us_trunk,
       crmpool.normalize_phone('020 7946 0958', '44') AS uk,
       crmpool.normalize_phone('44 20 7946 0958', '44') AS uk_cc,
       crmpool.normalize_phone('06 1234 5678', '39') AS it_keeps_0,
       crmpool.normalize_phone('8 495 123 45 67', '7') AS ru_trunk_8,
       crmpool.normalize_phone('0755 5332 6802', NULL) AS cn_by_setting;
SET crmpool.default_country = '44';
SELECT crmpool.normalize_phone('020 7946 0958') AS uk_by_setting,
       crmpool.normalize_phone('020 7946 0958', '86') AS cn_by_argument;
RESET crmpool.default_country;
SELECT crmpool.normalize_phone('13800138000', '+86');
SELECT crmpool.normalize_phone('13800138000', '');
SELECT crmpool.normalize_phone('13800138000', '0');
SELECT crmpool.normalize_phone(NULL) IS NULL AS null_in_null_out,
       crmpool.normalize_phone(NULL, '86') IS NULL AS null_with_country;

--
-- E-mail: trimmed, case-folded, full-width folded; plus-tags and dots kept.
--
SELECT n, v AS input, crmpool.normalize_email(v) AS canonical
FROM unnest(ARRAY[
    'cao.bin@weikesen.com', '  Cao.Bin@WeiKeSen.COM  ', 'cao.bin+2023@weikesen.com', 'caobin@weikesen.com',
    'ｃａｏ．ｂｉｎ＠ｗｅｉｋｅｓｅｎ。ｃｏｍ', E'\tDU.WEN@Fennimore-Ceramics.co.uk\n', 'du.wen@fennimore-ceramics.co.uk.',
    'ÄLÖ@Bücher.DE', 'user@localhost',
    -- not one address (but 13, 14, 17: what is pasted around one is dropped, see the end)
    'a@b@c.com', '@b.com', 'a@', 'a b@c.com', 'Zhang San <z@x.com>', 'z@x..com', 'z@.x.com',
    'mailto:z@x.com', 'z@x.com, y@x.com', 'no at sign', '', '   ', '@'
]) WITH ORDINALITY AS t(v, n)
ORDER BY n;

--
-- Company names: the parts (company_parts) and the distinctive core (company_core).
--
SELECT n, v AS name, crmpool.company_core(v) AS core, crmpool.company_parts(v) AS parts
FROM unnest(ARRAY[
    '南京澈鸣餐饮管理有限公司', '澈鸣（南京）餐饮管理有限公司', '江苏省南京市澈鸣餐饮管理有限责任公司',
    '北京市海淀区智源咨询有限公司', '智源科技(北京)有限公司', '广西壮族自治区南宁市绿源农业有限公司',
    '延边朝鲜族自治州长白山食品有限公司', '阿里巴巴(中国)网络技术有限公司', '上海大同机械有限公司',
    '广东东岚智行教育科技有限公司长沙分公司', '迈诺森(郑州)服饰股份有限公司（西安分公司）',
    '重庆市百川汇智能科技集团有限公司', '厦门市锴峰软件股份公司', 'ＡＢＣ科技发展有限公司',
    'Castlemere Media, LLC', 'The Smith & Sons Trading Co., Ltd.', 'Pemberdown Plastics B.V.',
    'Shenzhen Tengyue Technology Co., Ltd.', 'Castlemere Media LLC (Shanghai Branch)',
    'Acme GmbH & Co. KG', '泓', 'Ελληνική Εταιρεία', 'ООО Ромашка'
]) WITH ORDINALITY AS t(v, n)
ORDER BY n;

--
-- name_similarity: one or more pairs per rule of the language, at the default threshold.
--
SELECT rule, a, b, round(crmpool.name_similarity(a, b)::numeric, 4) AS score,
       crmpool.name_similarity(a, b) >= pg_catalog.current_setting('crmpool.name_threshold')::real
         AS duplicate
FROM (VALUES
        ('identical', '南京澈鸣餐饮管理有限公司', '南京澈鸣餐饮管理有限公司'),
        ('punctuation', '郑州霆钧服饰股份有限公司', '郑州霆钧服饰股份有限公司。'),
        ('spacing', '广州 昱成 文化传媒 股份有限公司', '广州昱成文化传媒股份有限公司'),
        ('width', '骞林（合肥）生物科技有限公司', '骞林(合肥)生物科技有限公司'),
        ('width', 'ＡＢＣ科技有限公司', 'abc科技有限公司'),
        ('case', 'FENNIMORE CERAMICS LTD', 'Fennimore Ceramics Ltd'),
        ('legal form', '斐然(济南)机械设备有限责任公司', '斐然(济南)机械设备有限公司'),
        ('legal form', '厦门市锴峰软件股份有限公司', '厦门市锴峰软件股份公司'),
        ('legal form', 'Dravenport Marine Incorporated', 'Dravenport Marine Inc.'),
        ('legal form', 'Pemberdown Plastics Company Limited', 'Pemberdown Plastics Co., Ltd.'),
        ('legal form', 'Acme Trading GmbH', 'ACME TRADING G.M.B.H.'),
        ('region suffix', '成都市棠溪生物科技有限公司', '成都棠溪生物科技有限公司'),
        ('region prefix', '广东东岚智行教育科技有限公司', '东岚智行教育科技有限公司'),
        ('region in brackets', '长沙祁峰建筑工程有限公司', '祁峰(长沙)建筑工程有限公司'),
        ('region in brackets', '诺睿特（浙江）生物科技有限公司', '浙江省诺睿特生物科技有限公司'),
        ('region in brackets', '智源咨询(北京)有限公司', '北京市海淀区智源咨询有限公司'),
        ('region, English', 'Shenzhen Tengyue Technology Co., Ltd.', 'Tengyue Technology (Shenzhen) Co., Ltd.'),
        ('province and city', '江苏省苏州市恒锐精密机械有限公司', '苏州恒锐精密机械有限公司'),
        ('one character', '南京澈鸣餐饮管理有限公司', '南京澈光餐饮管理有限公司'),
        ('one character', '重庆市百川汇智能科技有限责任公司', '重庆市百川荷智能科技有限责任公司'),
        ('one character', '东岚智行(广东)教育科技有限公司', '东岚智航(广东)教育科技有限公司'),
        ('one character', 'Sollary Studios Inc.', 'Sollery Studios Inc.'),
        ('one character', 'Pemberdown Plastics Ltd', 'Pemberdowm Plastics Ltd'),
        ('branch office', '广东东岚智行教育科技有限公司长沙分公司', '广东东岚智行教育科技有限公司'),
        ('branch office', '成都市棠溪生物科技有限公司宁波分公司', '成都市棠溪生物科技有限公司广州分公司'),
        ('branch office', 'Castlemere Media LLC', 'Castlemere Media LLC (Shanghai Branch)'),
        ('same branch', '成都市棠溪生物科技有限公司宁波分公司', '成都棠溪生物科技有限公司（宁波分公司）'),
        ('different region', '昱成(广州)文化传媒股份有限公司', '武汉市昱成文化传媒股份有限公司'),
        ('different region', '琮玉(郑州)物流有限公司', '琮玉(东莞)物流有限公司'),
        ('different region', '广东皓珀食品有限公司', '深圳皓珀食品有限公司'),
        ('different industry', '天津漪澜新材料股份有限公司', '天津漪澜科技股份有限公司'),
        ('different industry', '东岚智行科技有限公司', '东岚智行教育科技有限公司'),
        ('different industry', 'Castlemere Studios LLC', 'Castlemere Media LLC'),
        ('shared region and industry', '广东楠骐食品有限责任公司', '广东奥雷普食品有限责任公司'),
        ('shared industry', '合肥骞林生物科技有限公司', '成都市棠溪生物科技有限公司'),
        ('shared industry', 'Norvale Metals Corp.', 'Sollary Metals Corp.'),
        ('jurisdiction', 'Pemberdown Plastics B.V.', 'Pemberdown Plastics Co., Ltd.'),
        ('jurisdiction', 'Acme Trading GmbH', 'Acme Trading Inc.'),
        ('jurisdiction', 'Acme Pty Ltd', 'Acme Pte Ltd'),
        ('jurisdiction', 'Acme Pty Ltd', 'Acme Ltd'),
        ('same jurisdiction', 'Acme Ltd', 'Acme Co., Ltd.'),
        ('no core', '有限公司', '有限公司'),
        ('no core', '北京市', '北京'),
        ('no core', '北京科技有限公司', '北京科技有限公司'),
        ('no core', '。。。', '。。。'),
        ('one-character core', '泓有限公司', '泓(北京)有限公司'),
        ('one-character core', '泓有限公司', '洪有限公司')
      ) AS v(rule, a, b);

-- The score is symmetric and in [0, 1].
SELECT count(*) AS pairs,
       bool_and(crmpool.name_similarity(a, b) = crmpool.name_similarity(b, a)) AS symmetric,
       bool_and(crmpool.name_similarity(a, b) BETWEEN 0 AND 1) AS in_range
FROM unnest(ARRAY['南京澈鸣餐饮管理有限公司', '澈鸣(南京)餐饮管理有限公司', '澈光餐饮管理有限公司',
                  '南京澈鸣餐饮管理有限公司上海分公司', 'Castlemere Media LLC', 'Castlemere Studios Inc',
                  '有限公司', '泓', '']) a,
     unnest(ARRAY['南京澈鸣餐饮管理有限公司', '澈鸣(南京)餐饮管理有限公司', '澈光餐饮管理有限公司',
                  '南京澈鸣餐饮管理有限公司上海分公司', 'Castlemere Media LLC', 'Castlemere Studios Inc',
                  '有限公司', '泓', '']) b;

-- A lower threshold turns near misses into duplicates: the setting is what decides.
SET crmpool.name_threshold = 0.3;
SELECT crmpool.name_similarity('重庆市百川汇智能科技有限责任公司', '重庆市百川荷智能科技有限责任公司')
         >= pg_catalog.current_setting('crmpool.name_threshold')::real AS baichuan_at_0_3,
       crmpool.name_similarity('Sollary Studios Inc.', 'Sollery Studios Inc.')
         >= pg_catalog.current_setting('crmpool.name_threshold')::real AS sollery_at_0_3;
RESET crmpool.name_threshold;

--
-- name_bigrams: sorted, distinct, equal for names with the same core, shared whenever the
-- names can match, a unigram for a one-character core, empty without a core.
--
SELECT crmpool.name_bigrams('南京澈鸣餐饮管理有限公司') AS one_bigram,
       crmpool.name_bigrams('澈鸣(南京)餐饮管理有限公司') = crmpool.name_bigrams('南京澈鸣餐饮管理有限公司')
         AS same_core_same_keys,
       crmpool.name_bigrams('南京澈鸣餐饮管理有限公司') && crmpool.name_bigrams('南京澈光餐饮管理有限公司')
         AS one_char_shares_none,
       crmpool.name_bigrams('泓') AS unigram,
       crmpool.name_bigrams('泓有限公司') = crmpool.name_bigrams('泓') AS unigram_same_core,
       crmpool.name_bigrams('有限公司') AS no_core,
       crmpool.name_bigrams('') AS empty;
SELECT b = (SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(b) x) AS sorted_distinct,
       pg_catalog.cardinality(b) AS n
FROM (SELECT crmpool.name_bigrams('Castlemere Castlemere Media LLC') AS b) s;
-- Every pair above the threshold shares a key, so a GIN index on name_bigrams finds it.
SELECT bool_and(crmpool.name_bigrams(a) && crmpool.name_bigrams(b)) AS matches_share_a_key
FROM (VALUES ('广东东岚智行教育科技有限公司', '东岚智行教育科技有限公司'),
             ('长沙祁峰建筑工程有限公司', '祁峰(长沙)建筑工程有限公司'),
             ('Norvale Metals Corp.', 'Norvale Metals Corporation'),
             ('泓有限公司', '泓(北京)有限公司')) v(a, b)
WHERE crmpool.name_similarity(a, b) >= pg_catalog.current_setting('crmpool.name_threshold')::real;

--
-- Bad input never crashes and never matches: NULL, empty, white space, emoji, mixed scripts,
-- 1 MB strings.
--
SELECT crmpool.normalize_email(NULL) IS NULL AS email,
       crmpool.company_core(NULL) IS NULL AS core,
       crmpool.company_parts(NULL) IS NULL AS parts,
       crmpool.name_similarity(NULL, 'x') IS NULL AS similarity,
       crmpool.name_bigrams(NULL) IS NULL AS bigrams;
SELECT n, v AS input, crmpool.company_core(v) AS core, crmpool.name_bigrams(v) AS bigrams,
       crmpool.name_similarity(v, v) AS self_similarity, crmpool.normalize_phone(v) AS phone,
       crmpool.normalize_email(v) AS email
FROM unnest(ARRAY['', ' ', E'\t\n', '　　', '()', '【】', 'Co., Ltd.', '(北京)有限公司', '分公司',
                  '北京市海淀区']) WITH ORDINALITY AS t(v, n)
ORDER BY n;
-- Emoji, symbols and invisible characters (inputs not shown: psql's width of emoji changes
-- between versions).
SELECT n, crmpool.company_core(v) AS core, crmpool.name_bigrams(v) AS bigrams,
       crmpool.name_similarity(v, v) AS self_similarity, crmpool.normalize_phone(v) AS phone,
       crmpool.normalize_email(v) AS email
FROM unnest(ARRAY['🙂🙂', '👨‍👩‍👧', '™©®', U&'\200B\FEFF', '😀@x.com', '📞 138 0013 8000 🙂',
                  '🍎 Apple Inc.', U&'\+01F34E Apple\200B Inc.\FE0F']) WITH ORDINALITY AS t(v, n)
ORDER BY n;
-- Mixed scripts and emoji inside a name are folded away consistently.
SELECT crmpool.company_core('🍎 ＡＰＰＬＥ 苹果 Inc.') AS core,
       crmpool.name_similarity('🍎 ＡＰＰＬＥ 苹果 Inc.', 'apple苹果 INC') AS similarity,
       crmpool.name_similarity('ＡＰＰＬＥ 苹果', 'APPLE 苹菜') AS one_char;
-- 1 MB: bounded work, no core, no match, no phone or e-mail where there is none.
SELECT crmpool.company_core(pg_catalog.repeat('北京', 500000)) IS NULL AS core_null,
       crmpool.name_bigrams(pg_catalog.repeat('北京', 500000)) AS bigrams,
       crmpool.name_similarity(pg_catalog.repeat('北京', 500000), pg_catalog.repeat('北京', 500000)) AS self,
       crmpool.company_parts(pg_catalog.repeat('澈鸣', 500000)) ->> 'too_long' AS too_long,
       crmpool.normalize_phone(pg_catalog.repeat('北京', 500000)) AS phone,
       crmpool.normalize_phone(pg_catalog.repeat('1', 1000000)) AS digits,
       crmpool.normalize_email(pg_catalog.repeat('a', 1000000) || '@x.com') AS email;
-- A number or an address after 1 MB of white space is still found.
SELECT crmpool.normalize_phone(pg_catalog.repeat(' ', 1000000) || '138 0013 8000') AS phone,
       crmpool.normalize_email(pg_catalog.repeat(' ', 1000000) || 'A@X.COM ') AS email;
-- Names of every length up to the limit parse; just past it they have no core.
SELECT crmpool.company_core(pg_catalog.repeat('a', 4096)) = pg_catalog.repeat('a', 4096) AS at_limit,
       crmpool.company_core(pg_catalog.repeat('a', 4097)) IS NULL AS past_limit,
       crmpool.company_core(pg_catalog.repeat('澈', 1360) || '分公司') = pg_catalog.repeat('澈', 1360)
         AS long_branch;

--
-- Traditional characters fold to simplified before anything else (Unihan kSimplifiedVariant,
-- plus its z-variants and 谘 -> 咨): the core, the legal form, the industry, the region.
--
SELECT n, v AS input, crmpool.company_core(v) AS core, crmpool.company_parts(v) ->> 'industry' AS industry,
       crmpool.company_parts(v) -> 'region' AS region
FROM unnest(ARRAY['上海翊楷文化傳媒有限公司', '城璞(佛山)機械設備有限公司', '鋭飛企業管理諮詢有限公司',
                  '江蘇洵溪傢俱股份有限公司', '廣東省深圳市華信電子科技有限公司',
                  -- 乾 is simplified too (乾坤): kept
                  '乾元貿易有限公司']) WITH ORDINALITY AS t(v, n)
ORDER BY n;

--
-- company_key: the core with each Chinese character as its toneless pinyin (Unihan kMandarin;
-- ü written u), other characters kept; NULL without a core.
--
SELECT n, v AS input, crmpool.company_key(v) AS key
FROM unnest(ARRAY['广州市鸣缔教育科技股份有限公司', '广州鸣蒂教育科技有限公司', '廣州鳴締教育科技有限公司',
                  'Guangzhou Mingdi Education Technology Co., Ltd.', '绿源（上海）环保科技有限公司',
                  '上海PYJK生物科技有限公司', '北京科技发展有限公司', '𠀀𠀁商行']) WITH ORDINALITY AS t(v, n)
ORDER BY n;

--
-- name_similarity with the sound of the core, short forms, English abbreviations and legal
-- forms: pairs that match (same) and pairs that never do (diff), at the default threshold.
--
SELECT n, same, a, b, round(crmpool.name_similarity(a, b)::numeric, 3) AS score,
       crmpool.name_similarity(a, b) >= 0.8 AS match
FROM (VALUES
    -- a homophone slip: same toneless pinyin, one character different, in a core of two or more
    (1, true, '广州市鸣缔教育科技股份有限公司', '广州市鸣蒂教育科技股份有限公司'),
    (2, true, '贵阳市滔鹏包装有限公司', '贵阳滔蓬包装有限公司'),
    (3, true, '坚锐帕（深圳）光电科技有限责任公司', '健锐帕（深圳）光电科技有限责任公司'),
    -- another sound, two slips, a one-character core: different
    (4, false, '燃帕汇企业管理咨询有限公司', '燃翊汇企业管理咨询有限公司'),
    (5, false, '广州市鸣缔教育科技有限公司', '广州市明蒂教育科技有限公司'),
    (6, false, '广州市明缔教育科技有限公司', '广州市鸣蒂教育科技有限公司'),
    (7, false, '广州市鸣教育科技有限公司', '广州市明教育科技有限公司'),
    -- a homophone slip is still a different company in another region, sector or branch
    (8, false, '广州市鸣缔教育科技有限公司', '杭州市鸣蒂教育科技有限公司'),
    (9, false, '广州市鸣缔教育科技有限公司', '广州市鸣蒂餐饮管理有限公司'),
    -- traditional characters
    (10, true, '上海翊楷文化傳媒有限公司', '上海翊楷文化传媒有限公司'),
    (11, true, '鋭飛企業管理諮詢有限公司', '锐飞企业管理咨询有限公司'),
    -- pinyin and English registered names against the Chinese name's brand pinyin
    (12, true, '佛山濠远科技有限公司', 'Haoyuan Tech'),
    (13, true, '哈尔滨市汀珂企业管理咨询股份有限公司', 'Harbin Ting Ke Enterprise Management Consulting Co., Ltd.'),
    (14, true, '深圳市郁程日用品有限责任公司', 'Shenzhen Yucheng Daily Necessities Co., Ltd.'),
    (15, false, '佛山濠远科技有限公司', 'Haoyan Tech'),
    (16, false, '佛山濠远科技有限公司', 'Hangzhou Haoyuan Tech Co., Ltd.'),
    (17, false, '佛山濠远科技有限公司', 'Haoyuan Tech Guangzhou Branch'),
    -- short forms: brand + a short industry word that is part of the registered industry
    (18, true, '宏锟（湖州）精密机械有限公司', '宏锟精密公司'),
    (19, true, '宁波市卉钜企业管理咨询有限责任公司', '卉钜咨询'),
    (20, true, '广东卓亮生态农业有限公司', '卓亮农业'),
    (21, true, '广东果巍国际货运代理有限公司', '果巍货代'),
    (22, true, '杭州市孚柯汽车零部件有限责任公司', '孚柯汽配'),
    (23, true, '杭州市盟奇生态农业有限公司', '杭州盟奇'),
    -- combined with a homophone slip
    (24, true, '郑州市墨荟农业科技有限公司', '墨灰农业'),
    -- never across sectors, never for a generic word only, never with a legal form on both
    -- sides, never a branch against its head office
    (25, false, '武汉市焱信生态农业有限公司', '焱信医疗'),
    (26, false, '上海澜鑫环保科技有限公司', '澜鑫科技'),
    (27, false, '上海澜鑫环保科技有限公司', '上海澜鑫环保有限公司'),
    (28, false, '洵禧智精密机械股份有限公司天河分公司', '洵禧智精密'),
    -- English abbreviations and legal forms
    (29, true, 'Dalwyn Manufacturing Corp.', 'Dalwyn Mfg Corp.'),
    (30, true, 'Galfield Associates and Trading Co., Ltd.', 'Galfield Assoc. & Trading Company Limited'),
    (31, true, 'Orvrick National Materials LLC', 'Orvrick Natl Materials Limited Liability Company'),
    (32, true, 'Quarmont Intl Freight Co., Ltd.', 'Quarmont International Freight Co., Ltd.'),
    (33, true, 'Pellven Elec & Trading Corp.', 'Pellven Electronics and Trading Corp.'),
    (34, true, 'Ravara Sys, LLC', 'Ravara Systems LLC'),
    (35, true, 'Lumside Chemicals Inc.', 'Lumside Chem Incorporated'),
    (36, true, 'Cressey Environmental plc', 'Cressey Environmental Public Limited Company'),
    (37, true, 'Dalrick Consulting Proprietary Limited', 'Dalrick Consulting Pty Ltd'),
    (38, true, 'Glenford Eng & Trading Limited', 'Glenford Engineering and Trading Ltd'),
    (39, true, 'Uxster Holdings Co., Ltd.', 'Uxster Hldgs Co Ltd'),
    (40, true, 'Berstead Bio G.m.b.H.', 'Berstead Biosciences GmbH'),
    (41, false, 'Cressey Environmental plc', 'Cressey Environmental LLC'),
    (42, false, 'Dalwyn Mfg Corp.', 'Dalwyn Chem Corp.'),
    -- no distinctive core (only region, industry, legal form): never a match, even with itself
    (43, false, '北京科技发展有限公司', '北京科技发展有限公司'),
    (44, false, '北京科技发展有限公司', '北京科技开发有限公司'),
    (45, false, 'International Trading Co., Ltd.', 'Intl Trading Company Limited')
) AS p(n, same, a, b)
ORDER BY n;

-- =============================================================================================
-- Phones and e-mails as reps paste them (issue 11, contacts part).  Keep this block last.
-- =============================================================================================

-- Hong Kong, Macau and Taiwan written with their calling code but no "+" or "00": the code as a
-- group of its own, or more digits than a mainland number has.  A mainland area code is written
-- with its trunk 0 (0852, 0886) or after +86; a number that does not fit the region's length
-- stays a mainland one.
SELECT n, v AS input, crmpool.normalize_phone(v) AS canonical
FROM unnest(ARRAY[
    '852-2878 1234', '(852) 3430-1234', '852 6311 4142', '+852 6311 4142', '00852 6311 4142',
    '886-2-4904 1234', '886-912-345-678', '(886) 7-776-6128', '886-02-4904 1234', '886298519246',
    '853 2888 1234',
    -- mainland
    '85228781234', '0852-3819 3454', '+86 852 2272 4640', '86-852-2272 4640', '852 1234 5678',
    '886 1234567', '852-2878 123'
]) WITH ORDINALITY AS t(v, n)
ORDER BY n;

-- Extensions: ext, x, #, 转, 分机, 分机号, 内线, and two markers in a row (转分机); a marker with no
-- digits after it is no extension.
SELECT n, v AS input, crmpool.normalize_phone(v) AS canonical
FROM unnest(ARRAY[
    '010-5873 7000 转分机 163', '010-5873 7000 转 内线 12', '(0315) 686-5314（分机5605）',
    '0315-6865314 分机号：5605', '021-5243 7161 内线 88', '+86 21 5243 7161 ext. 35',
    '021 5243 7161 x35', '021-52437161#35', '021-52437161 转', '021-52437161 转 总机'
]) WITH ORDINALITY AS t(v, n)
ORDER BY n;

-- E-mail: the one address in what was pasted, plus tags and dots kept (normalize_email), and
-- the mailbox it reaches (email_mailbox).
SELECT n, v AS input, crmpool.normalize_email(v) AS address, crmpool.email_mailbox(v) AS mailbox
FROM unnest(ARRAY[
    '张三 <ZS+crm@X.com>', '"Peng Lu" <lu.peng@yizhugroup.cn>', '"zs@x.com" <zs@x.com>',
    'mailto:ZS@x.com', 'MAILTO: zs@x.com', '邮箱：zs@x.com', 'Email: zs@x.com（工作邮箱）',
    '(zs@x.com)', '【zs@x.com】', 'zs@x.com;', 'zs@x.com，', 'zs@x.com.', 'zs@ x.com', 'zs @x.com',
    'ｚｓ＠ｘ．ｃｏｍ', 'zs@x。com', '邮箱zs@x.com', '。zs@x.com',
    'Z.S+a@GoogleMail.com', 'z.s+a+b@gmail.com', 'z.s@outlook.com', '+tag@x.com',
    'z.s@mail.gmail.com', '<zs@x.com',
    -- not one address
    'a@x.com; b@y.com', '<a@x.com>, <b@y.com>', '"a@x.com" b@y.com', 'zs@', '@x.com', 'mailto:',
    'zs@x..com', 'zs@.x.com'
]) WITH ORDINALITY AS t(v, n)
ORDER BY n;
SELECT crmpool.email_mailbox(NULL) IS NULL AS null_in_null_out,
       crmpool.email_mailbox(pg_catalog.repeat('a', 1000000) || '@x.com') IS NULL AS too_long;
