-- How an incident was resolved or a request fulfilled: required to get there (ITIL's resolution
-- note), kept on the ticket; the requester is told in a public reply.
ALTER TABLE tickets ADD COLUMN resolution text CHECK (resolution IS NULL OR length(resolution) BETWEEN 1 AND 5000);

-- The approvals inbox's history: every decision of the tenant, newest first.
CREATE INDEX change_approvals_decided ON change_approvals (tenant_id, decided_at DESC, id DESC);
