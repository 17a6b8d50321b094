-- E-mails (issue 11): an e-mail's identity key is now the mailbox the address reaches (plus tag
-- dropped; at Gmail, dots dropped and googlemail.com folded), then the address as written when
-- it differs (src/track/identity.c, identity_email_key).  0.1 stored the address: every stored
-- e-mail key is keyed again, so that 0.1's customers are found by their mailbox.  Two addresses
-- of one customer that reach one mailbox leave one key (the key's primary key would refuse two).
CREATE FUNCTION crmpool.upgrade_email_key(address text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN crmpool.email_mailbox(address) OPERATOR(pg_catalog.=) crmpool.normalize_email(address)
				THEN crmpool.email_mailbox(address)
				ELSE crmpool.email_mailbox(address) OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||)
					 crmpool.normalize_email(address) END
$$;

INSERT INTO crmpool.identity_key (tenant, rel, kind, key, customer)
SELECT k.tenant, k.rel, k.kind, crmpool.upgrade_email_key(k.key), k.customer
FROM crmpool.identity_key AS k
WHERE k.kind OPERATOR(pg_catalog.=) 'e'::"char"
	AND crmpool.upgrade_email_key(k.key) OPERATOR(pg_catalog.<>) k.key
ON CONFLICT DO NOTHING;

DELETE FROM crmpool.identity_key AS k
WHERE k.kind OPERATOR(pg_catalog.=) 'e'::"char"
	AND crmpool.upgrade_email_key(k.key) OPERATOR(pg_catalog.<>) k.key;

DROP FUNCTION crmpool.upgrade_email_key(text);
