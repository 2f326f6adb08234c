-- Four eyes covers the ways round it (issue 11 review): granting the admin or change-manager role
-- by hand, making an account break-glass, and creating a privileged local account are governed
-- changes too, so one admin cannot make the approver, or the bypass, they need.
ALTER TABLE identity_change_requests DROP CONSTRAINT identity_change_requests_kind_check;
ALTER TABLE identity_change_requests ADD CONSTRAINT identity_change_requests_kind_check CHECK (kind IN (
  'role_rule.add', 'role_rule.delete', 'enforcement.set', 'connection.update', 'connection.delete', 'governance.set',
  'user.create', 'user.roles', 'user.update'));
