/** A small HTTP client with a cookie jar and the CSRF header, as the web app behaves. */
export interface Res<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export class Client {
  private cookies = new Map<string, string>();
  csrf: string | undefined;
  bearer: string | undefined;

  constructor(readonly base: string) {}

  setSession(cookieValue: string, csrf: string) {
    this.cookies.set('keydesk_session', cookieValue);
    this.csrf = csrf;
  }

  withToken(token: string): Client {
    const c = new Client(this.base);
    c.bearer = token;
    return c;
  }

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res<T>> {
    const h: Record<string, string> = { ...headers };
    if (this.cookies.size) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (this.csrf && !['GET', 'HEAD'].includes(method) && !('x-csrf-token' in h)) h['x-csrf-token'] = this.csrf;
    if (this.bearer) h.authorization = `Bearer ${this.bearer}`;
    let payload: string | Buffer | undefined;
    if (body !== undefined) {
      // Strings and bytes go as they are (bytes for bodies that are not UTF-8); anything else as JSON.
      payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.base + path, { method, headers: h, body: payload as BodyInit | undefined, redirect: 'manual' });
    for (const sc of res.headers.getSetCookie()) {
      const [pair] = sc.split(';');
      const [k, ...v] = pair!.split('=');
      const value = v.join('=');
      if (/expires=Thu, 01 Jan 1970/i.test(sc) || value === '') this.cookies.delete(k!.trim());
      else this.cookies.set(k!.trim(), value);
    }
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed as T };
  }

  get<T = any>(path: string) {
    return this.request<T>('GET', path);
  }
  post<T = any>(path: string, body?: unknown) {
    return this.request<T>('POST', path, body ?? {});
  }
  patch<T = any>(path: string, body: unknown) {
    return this.request<T>('PATCH', path, body);
  }
  put<T = any>(path: string, body: unknown) {
    return this.request<T>('PUT', path, body);
  }
  delete<T = any>(path: string, body?: unknown) {
    return this.request<T>('DELETE', path, body);
  }

  /** Password sign-in; keeps the session cookie and CSRF token. */
  async signIn(tenant: string, email: string, password: string, otp?: string) {
    const res = await this.post('/api/v1/session', { tenant, email, password, ...(otp ? { otp } : {}) });
    if (res.status === 200) this.csrf = res.body.csrfToken;
    return res;
  }
}
