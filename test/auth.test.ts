import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import * as OTPAuth from 'otpauth';
import { startApp, type TestApp, type TestTenant } from './helpers/app.js';
import { createUser } from '../src/identity/users.js';
import { freshWindow } from './helpers/windows.js';

let t: TestApp;
let tt: TestTenant;
const PASSWORD = 'correct horse battery staple';

before(async () => {
  t = await startApp();
  tt = await t.tenant();
});
after(() => t.close());

async function localUser(email: string, roles: ('requester' | 'agent' | 'admin')[] = ['requester']) {
  await t.db.transaction((tx) =>
    createUser({ db: t.db, tenant: tt.tenant, actor: null }, tx, { email, displayName: email, password: PASSWORD, roles, passwordChangeRequired: false }),
  );
}

async function auditRows(action: string) {
  return t.db.query<{ outcome: string; reason: string | null; actor_label: string }>(
    'SELECT outcome, reason, actor_label FROM audit_events WHERE tenant_id = $1 AND action = $2 ORDER BY id',
    [tt.tenant.id, action],
  );
}

/** A password sign-in sent from another loopback address (127.0.0.2): another source, as the server sees it. */
function signInFrom(localAddress: string, tenant: string, email: string, password: string): Promise<{ status: number; body: any }> {
  const url = new URL('/api/v1/session', t.url);
  const payload = JSON.stringify({ tenant, email, password });
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe('password sign-in', () => {
  test('signs in, sets an HttpOnly SameSite cookie, and audits the success', async () => {
    await localUser('ok@x.test');
    const c = t.client();
    const res = await c.signIn(tt.tenant.slug, 'OK@X.TEST', PASSWORD);
    assert.equal(res.status, 200);
    assert.equal(res.body.user.email, 'ok@x.test');
    const cookie = res.headers.getSetCookie().join(';');
    assert.match(cookie, /keydesk_session=/);
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Lax/i);
    assert.equal((await c.get('/api/v1/session')).body.user.email, 'ok@x.test');
    const rows = await auditRows('signin.password');
    assert.ok(rows.some((r) => r.outcome === 'success' && r.actor_label === 'ok@x.test'));
  });

  test('a wrong password and an unknown email read the same, and both are audited with their reason', async () => {
    await localUser('wrong@x.test');
    const a = await t.client().signIn(tt.tenant.slug, 'wrong@x.test', 'not the password');
    const b = await t.client().signIn(tt.tenant.slug, 'nobody@x.test', 'not the password');
    assert.equal(a.status, 401);
    assert.equal(b.status, 401);
    assert.equal(a.body.code, 'invalid_credentials');
    assert.deepEqual({ ...a.body }, { ...b.body });
    assert.match(a.headers.get('content-type')!, /application\/problem\+json/);
    const reasons = (await auditRows('signin.password')).filter((r) => r.outcome === 'failure').map((r) => `${r.actor_label}:${r.reason}`);
    assert.ok(reasons.includes('wrong@x.test:bad_password'));
    assert.ok(reasons.includes('nobody@x.test:unknown_user'));
  });

  test('an unknown tenant reads like a wrong password', async () => {
    const res = await t.client().signIn('no-such-tenant', 'a@b.test', 'whatever');
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'invalid_credentials');
  });

  test('five failures lock the account: even the right password is refused while locked', async () => {
    await localUser('lock@x.test');
    for (let i = 0; i < 5; i++) assert.equal((await t.client().signIn(tt.tenant.slug, 'lock@x.test', `bad-${i}`)).status, 401);
    const res = await t.client().signIn(tt.tenant.slug, 'lock@x.test', PASSWORD);
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'locked');
    assert.ok((await auditRows('signin.password')).some((r) => r.actor_label === 'lock@x.test' && r.reason === 'locked'));
  });

  test("a stranger's failures lock out only the stranger's address: the owner signs in from elsewhere, and İ-addresses as typed", async () => {
    // The break-glass case: its address is known, and the day the IdP is down is the day it must work.
    const email = 'İlkay@x.test';
    await localUser(email, ['requester', 'admin']);
    for (let i = 0; i < 5; i++) assert.equal((await t.client().signIn(tt.tenant.slug, email, `bad-${i}`)).status, 401);
    assert.equal((await t.client().signIn(tt.tenant.slug, email, PASSWORD)).body.code, 'locked', 'the failing address is locked out');
    const owner = await signInFrom('127.0.0.2', tt.tenant.slug, email, PASSWORD);
    assert.equal(owner.status, 200, JSON.stringify(owner.body));
    assert.equal(owner.body.user.email, email);
    // The owner's success does not lift the stranger's lock.
    assert.equal((await t.client().signIn(tt.tenant.slug, email, PASSWORD)).body.code, 'locked');
  });

  test('attempts on one account are rate-limited with 429 and Retry-After', async () => {
    await localUser('rate@x.test');
    // Counters use fixed 5-minute windows: do not start the burst just before a window ends.
    await freshWindow(300, 40);
    let last;
    for (let i = 0; i < 21; i++) last = await t.client().signIn(tt.tenant.slug, 'rate@x.test', `bad-${i}`);
    assert.equal(last!.status, 429);
    assert.ok(Number(last!.headers.get('retry-after')) > 0);
    assert.equal(last!.body.code, 'rate_limited');
  });

  test('a disabled account cannot sign in even with the right password', async () => {
    await localUser('off@x.test');
    await t.db.query(`UPDATE users SET status = 'disabled' WHERE tenant_id = $1 AND email = 'off@x.test'`, [tt.tenant.id]);
    const res = await t.client().signIn(tt.tenant.slug, 'off@x.test', PASSWORD);
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'disabled');
  });

  test('bad sign-in bodies get a 400 problem', async () => {
    const c = t.client();
    for (const body of [{}, { tenant: tt.tenant.slug, email: 'a@b.c' }, { tenant: tt.tenant.slug, email: 'a@b.c', password: 'x', extra: 1 }]) {
      const res = await c.post('/api/v1/session', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.code, 'invalid_request');
    }
    const notJson = await c.request('POST', '/api/v1/session', 'tenant=a&email=b', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(notJson.status, 415);
  });
});

describe('sessions', () => {
  test('sign-out revokes the session on the server, not just the cookie', async () => {
    await localUser('out@x.test');
    const c = t.client();
    await c.signIn(tt.tenant.slug, 'out@x.test', PASSWORD);
    const stolen = (c as any).cookies.get('keydesk_session');
    const out = await c.delete('/api/v1/session');
    assert.equal(out.status, 200);
    assert.deepEqual(out.body, { logoutUrl: null }, 'a password session has no identity provider to sign out of');
    const replay = t.client();
    replay.setSession(stolen, c.csrf!);
    assert.equal((await replay.get('/api/v1/session')).status, 401);
  });

  test('an idle session expires', async () => {
    const u = await t.user(tt.tenant, ['requester']);
    await t.db.query(`UPDATE sessions SET last_seen_at = now() - interval '2 hours' WHERE tenant_id = $1 AND user_id = $2`, [tt.tenant.id, u.id]);
    assert.equal((await u.client.get('/api/v1/session')).status, 401);
  });

  test('a session past its absolute lifetime is refused', async () => {
    const u = await t.user(tt.tenant, ['requester']);
    await t.db.query(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE tenant_id = $1 AND user_id = $2`, [tt.tenant.id, u.id]);
    assert.equal((await u.client.get('/api/v1/session')).status, 401);
  });

  test('an admin revokes every session and token of a user', async () => {
    const admin = await t.user(tt.tenant, ['admin']);
    const u = await t.user(tt.tenant, ['requester']);
    const tok = await u.client.post('/api/v1/me/tokens', { name: 'script' });
    assert.equal(tok.status, 201);
    assert.equal((await admin.client.post(`/api/v1/users/${u.id}/sessions/revoke`)).status, 204);
    assert.equal((await u.client.get('/api/v1/session')).status, 401);
    assert.equal((await t.client().withToken(tok.body.secret).get('/api/v1/tickets')).status, 401);
  });

  test('disabling a user ends their open session at once', async () => {
    const admin = await t.user(tt.tenant, ['admin']);
    const u = await t.user(tt.tenant, ['agent']);
    assert.equal((await u.client.get('/api/v1/tickets')).status, 200);
    assert.equal((await admin.client.patch(`/api/v1/users/${u.id}`, { status: 'disabled' })).status, 200);
    assert.equal((await u.client.get('/api/v1/tickets')).status, 401);
  });
});

describe('CSRF', () => {
  test('a cookie-authenticated write without the CSRF token is refused and changes nothing', async () => {
    const u = await t.user(tt.tenant, ['requester']);
    const before = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tickets WHERE tenant_id = $1', [tt.tenant.id]);
    const res = await u.client.request('POST', '/api/v1/tickets', { type: 'incident', title: 'forged' }, { 'x-csrf-token': 'wrong' });
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'csrf_failed');
    const noHeader = await u.client.request('POST', '/api/v1/tickets', { type: 'incident', title: 'forged' }, { 'x-csrf-token': '' });
    assert.equal(noHeader.status, 403);
    const after = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tickets WHERE tenant_id = $1', [tt.tenant.id]);
    assert.equal(after[0]!.n, before[0]!.n);
  });

  test('a write from a foreign Origin is refused even with the token', async () => {
    const u = await t.user(tt.tenant, ['requester']);
    const res = await u.client.request('POST', '/api/v1/tickets', { type: 'incident', title: 'x' }, { origin: 'https://evil.example' });
    assert.equal(res.status, 403);
  });

  test('a cross-site form post to sign in is refused (JSON only)', async () => {
    const res = await t.client().request('POST', '/api/v1/session', 'tenant=x', { 'content-type': 'text/plain' });
    assert.equal(res.status, 415);
  });
});

describe('one-time password of a new account', () => {
  test('must be changed before anything else; the change ends other sessions', async () => {
    const admin = await t.user(tt.tenant, ['admin']);
    const created = await admin.client.post('/api/v1/users', { email: 'new@x.test', displayName: 'New', password: 'initial-password-1', roles: ['requester'] });
    assert.equal(created.status, 201);
    const c = t.client();
    const s = await c.signIn(tt.tenant.slug, 'new@x.test', 'initial-password-1');
    assert.equal(s.body.passwordChangeRequired, true);
    const blocked = await c.get('/api/v1/tickets');
    assert.equal(blocked.status, 403);
    assert.equal(blocked.body.code, 'password_change_required');
    assert.equal((await c.post('/api/v1/me/password', { currentPassword: 'wrong', newPassword: 'a-brand-new-password' })).status, 400);
    assert.equal((await c.post('/api/v1/me/password', { currentPassword: 'initial-password-1', newPassword: 'short' })).status, 422);
    assert.equal((await c.post('/api/v1/me/password', { currentPassword: 'initial-password-1', newPassword: 'a-brand-new-password' })).status, 204);
    assert.equal((await c.get('/api/v1/tickets')).status, 200);
    assert.equal((await t.client().signIn(tt.tenant.slug, 'new@x.test', 'initial-password-1')).status, 401);
    assert.equal((await t.client().signIn(tt.tenant.slug, 'new@x.test', 'a-brand-new-password')).status, 200);
  });
});

describe('TOTP for local accounts', () => {
  test('enrol, then sign-in needs a code; a wrong or replayed code is refused', async () => {
    await localUser('totp@x.test');
    const c = t.client();
    await c.signIn(tt.tenant.slug, 'totp@x.test', PASSWORD);
    const begin = await c.post('/api/v1/me/totp');
    assert.equal(begin.status, 200);
    assert.match(begin.body.otpauthUri, /^otpauth:\/\/totp\//);
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(begin.body.secret) });
    assert.equal((await c.post('/api/v1/me/totp/confirm', { code: '000000' === totp.generate() ? '111111' : '000000' })).status, 400);
    const enrolCode = totp.generate();
    assert.equal((await c.post('/api/v1/me/totp/confirm', { code: enrolCode })).status, 204);

    const noCode = await t.client().signIn(tt.tenant.slug, 'totp@x.test', PASSWORD);
    assert.equal(noCode.status, 401);
    assert.equal(noCode.body.code, 'totp_required');
    // The code used for enrolment was consumed: presenting it again is a replay.
    const replay = await t.client().signIn(tt.tenant.slug, 'totp@x.test', PASSWORD, enrolCode);
    assert.equal(replay.status, 401);
    assert.equal(replay.body.code, 'bad_totp');
    const next = totp.generate({ timestamp: Date.now() + 30_000 });
    const ok = await t.client().signIn(tt.tenant.slug, 'totp@x.test', PASSWORD, next);
    assert.equal(ok.status, 200);
    const stored = await t.db.query<{ totp_secret: string }>(`SELECT totp_secret FROM users WHERE tenant_id = $1 AND email = 'totp@x.test'`, [tt.tenant.id]);
    assert.ok(!stored[0]!.totp_secret.includes(begin.body.secret), 'the seed is stored encrypted');
  });
});

describe('personal API tokens', () => {
  test('are shown once, stored hashed, work as Bearer without CSRF, and stop working when revoked', async () => {
    const u = await t.user(tt.tenant, ['agent']);
    const created = await u.client.post('/api/v1/me/tokens', { name: 'ci' });
    assert.equal(created.status, 201);
    const secret: string = created.body.secret;
    assert.match(secret, /^kdp_[0-9a-f]{32}_/);
    const rows = await t.db.query<{ token_hash: string }>('SELECT token_hash FROM api_tokens WHERE tenant_id = $1 AND id = $2', [tt.tenant.id, created.body.token.id]);
    assert.ok(!secret.includes(rows[0]!.token_hash) && rows[0]!.token_hash.length === 64);
    const list = await u.client.get('/api/v1/me/tokens');
    assert.ok(!JSON.stringify(list.body).includes(secret.slice(-43)), 'listing never shows the secret');
    const api = t.client().withToken(secret);
    assert.equal((await api.post('/api/v1/tickets', { type: 'incident', title: 'from a script' })).status, 201);
    assert.equal((await u.client.delete(`/api/v1/me/tokens/${created.body.token.id}`)).status, 204);
    assert.equal((await api.get('/api/v1/tickets')).status, 401);
  });

  test('a malformed or made-up bearer token is refused with 401, never treated as anonymous', async () => {
    for (const token of ['nonsense', `kdp_${tt.tenant.id.replace(/-/g, '')}_${'A'.repeat(43)}`, 'kdp_zz']) {
      const res = await t.client().withToken(token).get('/api/v1/session');
      assert.equal(res.status, 401);
      assert.equal(res.body.code, 'invalid_token');
    }
  });
});

describe('signing in while signed in elsewhere', () => {
  test('a browser with another tenant\'s session can sign in here without that session\'s CSRF token', async () => {
    await localUser('switch@x.test');
    const other = await t.tenant();
    const c = t.client();
    assert.equal((await c.signIn(other.tenant.slug, other.adminEmail, other.adminPassword)).status, 200);
    c.csrf = undefined;
    const res = await c.signIn(tt.tenant.slug, 'switch@x.test', PASSWORD);
    assert.equal(res.status, 200);
    assert.equal((await c.get('/api/v1/session')).body.tenant.slug, tt.tenant.slug);
  });

  test('the sign-in page may learn a workspace\'s display name, and nothing about unknown ones', async () => {
    const c = t.client();
    assert.deepEqual((await c.get(`/api/v1/tenants/${tt.tenant.slug}`)).body, { slug: tt.tenant.slug, name: tt.tenant.name });
    assert.equal((await c.get('/api/v1/tenants/nope-nope')).status, 404);
  });
});
