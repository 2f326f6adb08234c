/**
 * An endpoint URL as the audit trail and the jobs page show it: scheme, host and port, and `/…`
 * for the rest. Receivers often carry a bearer token in the path or query (Slack, Teams, Zapier
 * hooks), and the audit trail is exported, streamed and kept for years; the full URL stays on the
 * endpoint itself, for admins. `REDACTED_URL_SQL(column)` is the same rule in SQL.
 */
export function redactUrl(url: string): string {
  const at = url.search(/(?<=^[a-z][a-z0-9+.-]*:\/\/[^/?#]*)[/?#]/i);
  return at < 0 || url.slice(at) === '/' ? url : `${url.slice(0, at)}/…`;
}

export const REDACTED_URL_SQL = (column: string) => `regexp_replace(${column}, '^([a-z][a-z0-9+.-]*://[^/?#]*)[/?#](.+)$', '\\1/…', 'i')`;
