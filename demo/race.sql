-- One attempt by one rep (client N is rep N+1) to claim a random hot lead.
\set rep (:client_id % 20) + 1
\set c random(1, 300)
INSERT INTO crm.attempts SELECT :rep, customer, outcome
FROM crmpool.claim_many('crm.customers', ARRAY[:c]::bigint[], :rep);
