-- The audit trail's own settings per tenant (issue 11): how long events are kept, and a SIEM that
-- receives every event over syslog (RFC 5424 over TLS, RFC 5425). Streaming is a cursor: the id of
-- the last event written and flushed to the SIEM; a job chain (one per tenant, `syslog_generation`)
-- sends what follows it, holding `syslog_lease_*` while it does so that two nodes never send at once.
CREATE TABLE audit_settings (
  tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  -- NULL: kept forever. Never shorter than 30 days; events not yet streamed are kept regardless.
  retention_days integer CHECK (retention_days BETWEEN 30 AND 36500),
  syslog_enabled boolean NOT NULL DEFAULT false,
  syslog_host text CHECK (length(syslog_host) BETWEEN 1 AND 253),
  syslog_port integer NOT NULL DEFAULT 6514 CHECK (syslog_port BETWEEN 1 AND 65535),
  -- PEM certificates trusted instead of Node's roots (a private CA); NULL: the usual roots.
  syslog_ca_pem text CHECK (length(syslog_ca_pem) <= 65536),
  -- The TLS server name (SNI, and the name the certificate must carry); NULL: the host.
  syslog_servername text CHECK (length(syslog_servername) BETWEEN 1 AND 253),
  -- The last event delivered; NULL until streaming is first turned on (it then starts at the newest event).
  syslog_cursor bigint,
  syslog_generation integer NOT NULL DEFAULT 0,
  syslog_lease_holder text CHECK (length(syslog_lease_holder) <= 200),
  syslog_lease_until timestamptz,
  syslog_failures integer NOT NULL DEFAULT 0,
  syslog_last_delivered_at timestamptz,
  syslog_last_error text CHECK (length(syslog_last_error) <= 2000),
  syslog_last_error_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (NOT syslog_enabled OR syslog_host IS NOT NULL)
);

-- "Everything that happened to this person / connection / token": the auditor's question.
CREATE INDEX audit_events_target ON audit_events (tenant_id, target_type, target_id, id);
