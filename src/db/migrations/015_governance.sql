-- Governed identity configuration (issue 11): a tenant may require that changes to role rules,
-- SSO enforcement and connections take effect only through a change ticket approved by a change
-- manager other than the admin who asked (four eyes). The requested change waits here, sealed
-- (it may carry a client secret or a certificate), until the decision.
ALTER TABLE tenants ADD COLUMN governed_identity boolean NOT NULL DEFAULT false;

CREATE TABLE identity_change_requests (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  ticket_id uuid NOT NULL,
  kind text NOT NULL CHECK (kind IN ('role_rule.add', 'role_rule.delete', 'enforcement.set', 'connection.update', 'connection.delete', 'governance.set')),
  -- What the admin asked, sealed with KEYDESK_SECRET; `summary` says it in words, without secrets.
  params_sealed text NOT NULL,
  summary text NOT NULL CHECK (length(summary) BETWEEN 1 AND 500),
  requested_by uuid NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'applied', 'rejected', 'failed')),
  error text CHECK (length(error) <= 1000),
  decided_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  decided_at timestamptz,
  applied_at timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, requested_by) REFERENCES users (tenant_id, id)
);
CREATE UNIQUE INDEX identity_change_requests_ticket ON identity_change_requests (tenant_id, ticket_id);
CREATE INDEX identity_change_requests_status ON identity_change_requests (tenant_id, status, created_at DESC);
