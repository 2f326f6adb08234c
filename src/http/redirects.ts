/**
 * Where to send someone after sign-in: only a same-origin relative path inside their tenant.
 * Absolute URLs, protocol-relative `//host`, backslash tricks and control characters fall back to
 * the tenant's home.
 */
export function safeLandingPath(candidate: string | null | undefined, tenantSlug: string): string {
  const home = `/t/${tenantSlug}/`;
  if (!candidate || candidate.length > 1000) return home;
  if (!candidate.startsWith(home)) return home;
  if (/[\\\s\x00-\x1f\x7f]/.test(candidate) || candidate.includes('//')) return home;
  try {
    const resolved = new URL(candidate, 'https://keydesk.invalid');
    if (resolved.origin !== 'https://keydesk.invalid' || !resolved.pathname.startsWith(home)) return home;
    return resolved.pathname + resolved.search + resolved.hash;
  } catch {
    return home;
  }
}
