-- bench/dedup_setup.sql: the data of bench/dedup (psql variables rows, fresh, probes).
--
--   bench.customer  :rows existing customers: Chinese company names (region prefix, or the region
--                   in brackets, or none; a 2-4 character trade name; industry words; a legal
--                   form; some branch offices) and English ones, phones (mobiles and landlines
--                   written several ways) and e-mails.  About 2% are re-entries of an earlier
--                   customer (a variant of its name, its phone or e-mail): the dirty data a CRM
--                   adopts.  bench/dedup copies it into the managed and the plain table.
--   bench.fresh     new customers for the insert scripts, one per insert (n = 1, 2, ...); each
--                   has a trade name, a phone and an e-mail no existing customer has, so that
--                   dedup_* = 'block' never refuses one (bench/dedup checks that against the
--                   keys crmpool computed and renumbers what is left).
--   bench.probe     variants of existing names (other brackets, spacing, legal form, no region,
--                   lower case, punctuation) for the two name searches.
--
-- Trade names draw characters from GB2312 level 1 (the 3755 常用字), skewed towards the ones
-- trade names favour (华, 泰, 鑫, ...), so that popular bigrams are shared by thousands of
-- names, as in a real customer base.  Fresh names add two level 2 characters (never drawn for
-- existing names).  Everything is built with generate_series and SQL: no client loop.
SET max_parallel_workers_per_gather = 0;	-- one process: setseed makes the data repeatable
SELECT setseed(0.42);
CREATE EXTENSION pg_trgm;
CREATE SCHEMA bench;

CREATE TABLE bench.words AS
WITH gb AS (
	SELECT hi, lo, convert_from(decode(to_hex(hi) || to_hex(lo), 'hex'), 'EUC_CN') AS c
	FROM generate_series(176, 247) hi, generate_series(161, 254) lo
	WHERE NOT (hi = 215 AND lo > 249)),
fav AS (
	SELECT c, min(ord) AS ord FROM unnest(string_to_array(
		'华泰鑫达盛恒信德源丰宏新通安利博金海天中美嘉凯宇星辉瑞祥兴隆昌荣诚汇远益茂福润晟合佳创联众'
		'和明光腾飞龙凤永富宝鼎聚亿万顺成百东方正大同元力康健乐优品尚雅智慧融峰岳川江河湖山林森'
		'禾田青蓝红紫绿银铭锦绣云雨风雷阳春秋冬晨曦朗逸轩皓旭志远航启迪卓越精工艺匠诺亚欣悦怡',
		NULL)) WITH ORDINALITY AS f(c, ord) GROUP BY c)
SELECT
	(SELECT array_agg(gb.c ORDER BY coalesce(f.ord, 10000), gb.hi, gb.lo)
	 FROM gb LEFT JOIN fav f USING (c) WHERE gb.hi <= 215) AS hz,
	(SELECT array_agg(c ORDER BY hi, lo) FROM gb WHERE hi > 215) AS hz2,
	ARRAY['北京','上海','天津','重庆','广州','深圳','杭州','南京','苏州','成都','武汉','西安','长沙',
		  '郑州','济南','青岛','合肥','福州','厦门','昆明','南宁','沈阳','大连','哈尔滨','长春','石家庄',
		  '太原','南昌','贵阳','兰州','东莞','佛山','宁波','无锡','温州','常州','徐州','烟台','珠海',
		  '中山','惠州','泉州','嘉兴','绍兴','金华','台州','潍坊','洛阳','襄阳','宜昌'] AS city,
	ARRAY['广东省深圳市','广东省广州市','浙江省杭州市','江苏省苏州市','江苏省南京市','四川省成都市',
		  '湖北省武汉市','山东省青岛市','福建省厦门市','湖南省长沙市','北京市海淀区','北京市朝阳区',
		  '上海市浦东新区','深圳市南山区','杭州市西湖区','广东省东莞市','浙江省宁波市'] AS region_long,
	ARRAY['科技','科技','科技','信息技术','网络科技','生物科技','电子科技','智能科技','贸易','贸易','商贸',
		  '进出口','餐饮管理','文化传媒','广告传媒','电子','物流','供应链管理','服饰','机械设备','建筑工程',
		  '装饰工程','房地产开发','医药','医疗器械','食品','教育科技','咨询','管理咨询','投资管理','实业',
		  '新材料','新能源','环保科技','汽车服务','物业管理','酒店管理','农业科技','化工','五金','家居',
		  '软件','软件开发','数据科技','人力资源','劳务派遣','包装材料','印刷','模具','电气','照明',
		  '旅游','健康科技','工程技术','安防','通信设备','能源','光电','塑料制品','纺织'] AS cn_industry,
	ARRAY['有限公司','有限公司','有限公司','有限公司','有限公司','有限公司','有限公司','有限公司',
		  '有限公司','有限公司','有限公司','有限公司','有限公司','有限责任公司','有限责任公司',
		  '有限责任公司','股份有限公司','股份有限公司','集团有限公司','经营部','工作室','商行'] AS cn_legal,
	ARRAY['分公司','分公司','分公司','办事处','营业部'] AS cn_branch,
	ARRAY['North','South','East','West','Blue','Red','Silver','Golden','Oak','Pine','Stone','River',
		  'Lake','Sun','Star','Bright','Clear','Green','Iron','Sky','Maple','Cedar','Ash','Elm','Brook',
		  'Fox','Wolf','Eagle','Hawk','Bay','Harbor','Crest','High','Long','Fair','Rose','Summer',
		  'Winter','Spring','Falcon','Coral','Amber','Crystal','Granite','Willow','Birch','Storm',
		  'Thunder','Swift','Noble','Royal','Grand','Prime','Apex','Nova','Terra','Aqua','Vista',
		  'Echo','Pioneer','Summit','Horizon','Atlas','Orion','Polar','Jade','Lotus','Phoenix',
		  'Dragon','Tiger','Crane','Pearl','Ruby','Onyx','Cobalt','Copper','Bronze','Velvet'] AS en_pre,
	ARRAY['wind','field','brook','view','gate','point','ridge','wood','well','ton','ford','stone',
		  'bridge','water','line','peak','way','crest','dale','haven','mont','port','side','land',
		  'mere','shire','wick','stead','hurst','bury','worth','castle','more','vale','fall',
		  'spring','light','wave','star','rock','field','grove','hill','moor','bay','shore',''] AS en_suf,
	ARRAY['Smith','Johnson','Harrington','Whitmore','Castellan','Pemberton','Ashford','Kingsley',
		  'Thornton','Bradford','Caldwell','Donovan','Ellison','Fairbanks','Garrison','Hollister',
		  'Langford','Mercer','Prescott','Radcliffe','Sinclair','Tennyson','Underwood','Vaughan',
		  'Wellington','Yardley','Abbott','Barrett','Chandler','Dalton','Everett','Fletcher','Gallagher',
		  'Hastings','Irving','Jarvis','Keller','Lawson','Morrison','Nash','Osborne','Parker','Quinn',
		  'Reynolds','Sutton','Turner','Vance','Walsh','Young','Zimmerman'] AS en_surname,
	ARRAY['Trading','Logistics','Software','Foods','Media','Medical','Robotics','Energy','Capital',
		  'Consulting','Systems','Technologies','Technology','Marine','Industries','Electronics',
		  'Pharmaceuticals','Apparel','Textiles','Chemicals','Packaging','Engineering','Holdings',
		  'Solutions','Services','Networks','Design','Studios','Analytics','Partners','Ventures',
		  'Materials','Machinery','Furniture','Shipping','Healthcare','Biotech','Games','Realty'] AS en_industry,
	ARRAY['Inc.','Inc.','Ltd.','Ltd.','LLC','LLC','Co., Ltd.','Co., Ltd.','Co., Ltd.','Corp.',
		  'Limited','Corporation','GmbH','Pte Ltd','PLC','Pty Ltd'] AS en_legal,
	ARRAY['Shanghai','Beijing','Shenzhen','Guangzhou','Hangzhou','Suzhou','Ningbo','Xiamen'] AS en_city,
	ARRAY['010','021','022','023','020','0755','0571','025','0512','028','027','029','0731','0371',
		  '0531','0532','0551','0591','0592','0871','0771','024','0411','0451','0431','0311','0351',
		  '0791','0851','0931','0769','0757','0574','0510','0577'] AS area,
	ARRAY['130','131','132','133','135','136','137','138','139','150','151','152','155','156','157',
		  '158','159','170','176','177','178','180','181','182','183','185','186','187','188','189',
		  '191','198'] AS mobile_prefix,
	ARRAY['sales','info','contact','service','admin','hr','market','office','support','business',
		  'zhang.wei','li.na','wang.fang','liu.yang','chen.jing','yang.lei','zhao.qiang','huang.li',
		  'zhou.jie','wu.fang','xu.ming','sun.hao','ma.lin','zhu.ting','hu.bo','guo.hui','he.ping',
		  'lin.xia','luo.kai','gao.yan'] AS mail_local,
	ARRAY['qq.com','163.com','126.com','sina.com','foxmail.com','139.com'] AS mail_free,
	ARRAY['.com','.com','.cn','.com.cn','.net','.cn'] AS mail_tld;

CREATE FUNCTION bench.pick(a anyarray) RETURNS anyelement LANGUAGE sql VOLATILE AS
$$ SELECT a[1 + floor(random() * cardinality(a))::int] $$;

-- Trade names for customers 1..n: one character each if one_char, else 2 to 4 (58%, 24%, 18%),
-- drawn from hz skewed towards its front: P(index < i) = (i / 3755) ^ 0.4.  Set-based: a
-- function per character would dominate the load.
CREATE TABLE bench.hz AS SELECT i::int, c FROM bench.words, unnest(hz) WITH ORDINALITY u(c, i);
ALTER TABLE bench.hz ADD PRIMARY KEY (i);
CREATE TABLE bench.hz2 AS SELECT i::int - 1 AS i, c FROM bench.words, unnest(hz2) WITH ORDINALITY u(c, i);
ALTER TABLE bench.hz2 ADD PRIMARY KEY (i);
CREATE FUNCTION bench.trades(n int, one_char boolean) RETURNS TABLE (g int, trade text) LANGUAGE sql VOLATILE AS
$$ SELECT g, string_agg(h.c, '' ORDER BY k)
   FROM (SELECT g, k, 1 + floor(3755 * random() ^ 2.5)::int AS i
		 FROM (SELECT g, CASE WHEN one_char THEN 1 ELSE 2 + floor(random() ^ 2 * 3)::int END AS len
			   FROM generate_series(1, n) g) s,
			  LATERAL generate_series(1, len) k) p
		JOIN bench.hz h USING (i)
   GROUP BY g $$;

-- k lower-case letters spelling n in base 26: unique per n below 26^k.
CREATE FUNCTION bench.letters(n bigint, k int) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT string_agg(chr(97 + ((n / (26::bigint ^ i)::bigint) % 26)::int), '' ORDER BY i)
   FROM generate_series(0, k - 1) i $$;

-- A Chinese company name around a trade name: a city prefix (half of them with 市), a longer
-- region, the city in brackets (ASCII or full width), or no region; industry words and a legal
-- form; 5% are branch offices.
CREATE FUNCTION bench.cn_name(w bench.words, trade text) RETURNS text LANGUAGE sql VOLATILE AS
$$ SELECT CASE WHEN r < 0.40 THEN bench.pick(w.city) || CASE WHEN random() < 0.5 THEN '市' ELSE '' END || trade
			  WHEN r < 0.50 THEN bench.pick(w.region_long) || trade
			  WHEN r < 0.60 THEN trade || '(' || bench.pick(w.city) || ')'
			  WHEN r < 0.70 THEN trade || '（' || bench.pick(w.city) || '）'
			  ELSE trade END
		 || bench.pick(w.cn_industry) || bench.pick(w.cn_legal)
		 || CASE WHEN random() < 0.05 THEN bench.pick(w.city) || bench.pick(w.cn_branch) ELSE '' END
   FROM (SELECT random() AS r) s $$;

CREATE FUNCTION bench.en_word(w bench.words) RETURNS text LANGUAGE sql VOLATILE AS
$$ SELECT CASE WHEN random() < 0.3 THEN bench.pick(w.en_surname)
			  ELSE bench.pick(w.en_pre) || bench.pick(w.en_suf) END $$;

-- An English company name: sometimes a Chinese city first, then word, sometimes a second word,
-- usually an industry, and a legal form.
CREATE FUNCTION bench.en_name(w bench.words, word text) RETURNS text LANGUAGE sql VOLATILE AS
$$ SELECT CASE WHEN random() < 0.1 THEN bench.pick(w.en_city) || ' ' ELSE '' END || word
		 || CASE WHEN random() < 0.4 THEN ' ' || bench.en_word(w) ELSE '' END
		 || CASE WHEN random() < 0.85 THEN ' ' || bench.pick(w.en_industry) ELSE '' END
		 || ' ' || bench.pick(w.en_legal) $$;

-- A mobile number (11 digits) written one of the ways people write it.
CREATE FUNCTION bench.mobile_text(d text) RETURNS text LANGUAGE sql VOLATILE AS
$$ SELECT CASE floor(random() * 7)::int
			WHEN 0 THEN d
			WHEN 1 THEN substr(d, 1, 3) || ' ' || substr(d, 4, 4) || ' ' || substr(d, 8)
			WHEN 2 THEN substr(d, 1, 3) || '-' || substr(d, 4, 4) || '-' || substr(d, 8)
			WHEN 3 THEN '+86 ' || d
			WHEN 4 THEN '+86-' || substr(d, 1, 3) || '-' || substr(d, 4, 4) || '-' || substr(d, 8)
			WHEN 5 THEN '(+86) ' || substr(d, 1, 3) || ' ' || substr(d, 4, 4) || ' ' || substr(d, 8)
			ELSE '0086 ' || d END $$;

-- A landline (area code with its 0, 8-digit number), written one of several ways, 5% with an
-- extension.
CREATE FUNCTION bench.landline_text(ac text, num text) RETURNS text LANGUAGE sql VOLATILE AS
$$ SELECT CASE floor(random() * 5)::int
			WHEN 0 THEN ac || '-' || num
			WHEN 1 THEN '(' || ac || ') ' || substr(num, 1, 4) || ' ' || substr(num, 5)
			WHEN 2 THEN '+86 ' || substr(ac, 2) || ' ' || substr(num, 1, 4) || ' ' || substr(num, 5)
			WHEN 3 THEN ac || ' ' || substr(num, 1, 4) || '-' || substr(num, 5)
			ELSE ac || num END
		 || CASE WHEN random() < 0.05 THEN ' 转 ' || (100 + floor(random() * 900)::int)::text ELSE '' END $$;

-- 70% mobiles (never 199..., which fresh customers use), 30% landlines.
CREATE FUNCTION bench.phone(w bench.words) RETURNS text LANGUAGE sql VOLATILE AS
$$ SELECT CASE WHEN random() < 0.7
			  THEN bench.mobile_text(bench.pick(w.mobile_prefix) || lpad(floor(random() * 1e8)::int::text, 8, '0'))
			  ELSE bench.landline_text(bench.pick(w.area), (2 + floor(random() * 7)::int)::text
															|| lpad(floor(random() * 1e7)::int::text, 7, '0')) END $$;

-- A QQ-style number at a free mail domain, or a person or a role at a company domain.
CREATE FUNCTION bench.email(w bench.words) RETURNS text LANGUAGE sql VOLATILE AS
$$ SELECT CASE WHEN random() < 0.3
			  THEN (10000 + floor(random() * 2e9)::bigint)::text || '@' || bench.pick(w.mail_free)
			  ELSE bench.pick(w.mail_local) || '@' || bench.letters(floor(random() * 3e8)::bigint, 6)
				   || bench.pick(w.mail_tld) END $$;

-- Another way to write the same company: brackets swapped, legal form written out, no region
-- prefix, lower case with spacing, a trailing full stop.
CREATE FUNCTION bench.variant(w bench.words, name text) RETURNS text LANGUAGE sql VOLATILE AS
$$ SELECT CASE floor(random() * 5)::int
			WHEN 0 THEN translate(name, '()（）', '（）()')
			WHEN 1 THEN regexp_replace(regexp_replace(name, '有限公司$', '有限责任公司'), 'Ltd\.$', 'Limited')
			WHEN 2 THEN regexp_replace(name, '^(' || array_to_string(w.city, '|') || ')市?', '')
			WHEN 3 THEN regexp_replace(lower(name), '(有限|股份|集团)', ' \1')
			ELSE name || '.' END $$;

-- Existing customers: 40% belong to one of 500 reps, the rest sit in the pool.
CREATE TABLE bench.customer (
	id			bigint PRIMARY KEY,
	name		text NOT NULL,
	phone		text,
	email		text,
	owner_id	bigint
);
INSERT INTO bench.customer
SELECT g,
	   CASE WHEN random() < 0.75 THEN bench.cn_name(w, t.trade) ELSE bench.en_name(w, bench.en_word(w)) END,
	   CASE WHEN random() < 0.9 THEN bench.phone(w) END,
	   CASE WHEN random() < 0.7 THEN bench.email(w) END,
	   CASE WHEN random() < 0.4 THEN 1 + floor(random() * 500)::int END
FROM bench.words w, bench.trades(:rows, false) t;

-- Re-entries: every 50th customer is an earlier one again, its name written differently, its
-- phone (or, without one, its e-mail) the same.
UPDATE bench.customer c
SET name = bench.variant(w, o.name), phone = o.phone,
	email = CASE WHEN o.phone IS NULL THEN o.email ELSE c.email END
FROM bench.customer o, bench.words w
WHERE c.id % 50 = 0 AND o.id = c.id - 17;

-- Fresh customers: a trade name no one has (a popular character and two level 2 characters
-- spelling n, or an English word of n's letters), a 199 mobile and a numbered e-mail.
CREATE TABLE bench.fresh_raw AS
SELECT g AS n,
	   CASE WHEN random() < 0.75
			THEN bench.cn_name(w, t.trade || (SELECT c FROM bench.hz2 WHERE i = g / 3008)
									 || (SELECT c FROM bench.hz2 WHERE i = g % 3008))
			ELSE bench.en_name(w, bench.en_word(w) || ' Z' || bench.letters(g, 4)) END AS name,
	   bench.mobile_text('199' || lpad(g::text, 8, '0')) AS phone,
	   'contact' || (100000 + g)::text || '@' || bench.letters(floor(random() * 3e8)::bigint, 6)
		   || bench.pick(w.mail_tld) AS email,
	   CASE WHEN random() < 0.7 THEN 1 + floor(random() * 500)::int END AS owner_id
FROM bench.words w, bench.trades(:fresh, true) t;

-- Name variants of existing customers, for the searches.
CREATE TABLE bench.probe AS
SELECT g AS n, bench.variant(w, c.name) AS v
FROM bench.words w, generate_series(1, :probes) g
	 JOIN bench.customer c ON c.id = 1 + (g::bigint * 7919) % :rows;
ALTER TABLE bench.probe ADD PRIMARY KEY (n);
