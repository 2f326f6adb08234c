-- How an incident was resolved or a request fulfilled: required to get there (ITIL's resolution
-- note), kept on the ticket; the requester is told in a public reply.
ALTER TABLE tickets ADD COLUMN resolution text CHECK (resolution IS NULL OR length(resolution) BETWEEN 1 AND 5000);
