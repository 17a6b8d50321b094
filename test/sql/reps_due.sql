-- A team's recycle rules: moving a rep to another team (crmpool.set_rep) moves the due times of
-- its customers at once, as a rule change does.
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
SET crmpool.timezone = 'UTC';
CREATE TABLE reps_due (id bigint PRIMARY KEY, owner_id bigint, last_contact timestamptz);
INSERT INTO reps_due VALUES (1, 7, '2026-03-01 09:00+00'), (2, 8, '2026-03-01 09:00+00');
SELECT crmpool.manage('reps_due', 'owner_id', followup_column => 'last_contact');
SELECT crmpool.set_rules('reps_due', '{"recycle_no_followup": "30 days"}');
SELECT crmpool.set_rules('reps_due', '{"recycle_no_followup": "10 days"}', team => 'east');
SELECT customer, owner, due_at, rule FROM crmpool.due('reps_due') ORDER BY customer;
SELECT crmpool.set_rep('reps_due', 7, team => 'east');
SELECT customer, owner, due_at, rule FROM crmpool.due('reps_due') ORDER BY customer;
SELECT crmpool.set_rep('reps_due', 7);
SELECT customer, owner, due_at, rule FROM crmpool.due('reps_due') ORDER BY customer;
SELECT crmpool.unmanage('reps_due');
DROP TABLE reps_due;
