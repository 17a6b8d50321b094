-- Phones and e-mails as reps paste them (issue 11, contacts part): crmpool.normalize_email finds
-- the address in pasted text, crmpool.email_mailbox gives the mailbox it reaches.
-- sql/upgrade/0.1--0.2/71_contacts.sql is a link to this file: an updated 0.1 gets exactly these
-- objects (0.1 has normalize_email, with another comment).  ASCII only, as 30_normalize.sql.
COMMENT ON FUNCTION crmpool.normalize_email(text) IS
'The one e-mail address in the text, without what was pasted around it (display name, mailto:, labels, brackets, stray punctuation, spaces next to the @), full-width and case folded, plus-tags and dots kept; NULL if the text holds no address or more than one.';

CREATE FUNCTION crmpool.email_mailbox(email text)
RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'crmpool_email_mailbox_sql';

COMMENT ON FUNCTION crmpool.email_mailbox(text) IS
'The mailbox the address in the text (crmpool.normalize_email) reaches: without its plus tag, and at gmail.com or googlemail.com without the dots of the user name and at gmail.com; NULL as normalize_email.';
