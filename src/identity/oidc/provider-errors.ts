/**
 * What an identity provider's `error` / `error_description` (RFC 6749 §4.1.2.1, §5.2) means for the
 * admin, for the errors Entra and Okta send when a setting is wrong. Entra puts an AADSTS code at
 * the start of the description; Okta uses the standard codes with its own descriptions.
 */
export function providerErrorFix(error: string, description: string, ctx: { redirectUri: string; clientId: string }): string {
  const aadsts = /AADSTS(\d+)/.exec(description)?.[1];
  switch (aadsts) {
    case '50011':
      return `The redirect URI is not registered for the application. In Entra: App registrations › your app › Authentication › Web › Redirect URIs, add exactly ${ctx.redirectUri} (in Okta: the app's Sign-in redirect URIs).`;
    case '700016':
      return `No application with client ID ${ctx.clientId} exists in the directory the person signed in to. Check the connection's client ID (Entra: the app's Application (client) ID); for people of another Entra tenant, make the app multi-tenant and have that tenant's admin consent.`;
    case '50105':
      return 'The person is not assigned to the application, and assignment is required. In Entra: Enterprise applications › your app › Users and groups › Add user/group (or turn "Assignment required" off under Properties).';
    case '7000215':
      return "The client secret is wrong: Entra keeps the secret's value only right after creating it. In Entra: App registrations › your app › Certificates & secrets › New client secret; enter its Value (not its Secret ID) in the connection's settings.";
    case '7000222':
      return "The client secret has expired. In Entra: App registrations › your app › Certificates & secrets › New client secret; enter its Value in the connection's settings and record when it expires.";
    case '65001':
      return "Nobody has consented to the application's permissions. In Entra: App registrations › your app › API permissions › Grant admin consent (openid, profile, email; User.Read).";
    case '50020':
      return 'The person’s account is from a directory this application does not accept. Invite them as a guest, or make the app multi-tenant and add their tenant to the connection’s allowed tenants.';
  }
  switch (error) {
    case 'access_denied':
      return 'The identity provider denied the sign-in: in Okta, the person is usually not assigned to the application (Applications › your app › Assignments); in Entra, the person cancelled or a Conditional Access policy blocked them (see the sign-in logs).';
    case 'invalid_client':
    case 'unauthorized_client':
      return `The provider does not know client ID ${ctx.clientId}, or the application is inactive or not allowed the authorization code grant. Check the client ID, and in Okta that the app is active with the "Authorization Code" grant type.`;
    case 'invalid_scope':
      return 'The provider refused the scopes openid profile email. Allow them for the application (Okta: the authorization server’s Access Policies and Scopes).';
    case 'consent_required':
    case 'interaction_required':
    case 'login_required':
      return 'The provider needs the person (or an admin) to act first: consent, multi-factor sign-in, or a policy. Have them sign in again; if it repeats, grant admin consent for the application.';
    case 'temporarily_unavailable':
    case 'server_error':
      return 'The identity provider had a problem of its own. Try again in a few minutes; its status page may say more.';
  }
  return 'The identity provider refused the sign-in; its message is shown above. Check the application’s settings there (redirect URI, client ID, assignments, consent).';
}
