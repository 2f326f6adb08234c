-- Identity drives the service desk (issue 11): request categories per tenant, each fulfilled by a
-- team, some needing the requester's manager's approval before fulfilment.

CREATE TABLE request_categories (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  -- The team that fulfils requests in this category.
  team_id uuid,
  requires_manager_approval boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE SET NULL (team_id)
);
CREATE UNIQUE INDEX request_categories_name_key ON request_categories (tenant_id, lower(name));

-- The category a request was raised in (its name stays in tickets.category when the category goes),
-- and the person who must approve it before fulfilment: the requester's manager at submission.
ALTER TABLE tickets ADD COLUMN category_id uuid;
ALTER TABLE tickets ADD COLUMN approver_id uuid;
ALTER TABLE tickets ADD FOREIGN KEY (tenant_id, category_id) REFERENCES request_categories (tenant_id, id) ON DELETE SET NULL (category_id);
ALTER TABLE tickets ADD FOREIGN KEY (tenant_id, approver_id) REFERENCES users (tenant_id, id);
-- A manager's Approvals inbox.
CREATE INDEX tickets_approver ON tickets (tenant_id, approver_id, created_at DESC) WHERE approver_id IS NOT NULL;
