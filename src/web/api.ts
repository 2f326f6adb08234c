/**
 * A small fetch wrapper for the Keydesk API: same-origin cookies, the CSRF header on writes, and
 * problem+json errors turned into ApiError (whose message is the server's `detail`).
 */
export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: FieldError[] = [],
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken: string | undefined;
let authErrorHandler: ((err: ApiError) => void) | null = null;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Called when a request finds the session gone (401) or a password change pending (403). */
export function setAuthErrorHandler(fn: ((err: ApiError) => void) | null): void {
  authErrorHandler = fn;
}

export type Query = Record<string, string | number | boolean | null | undefined | (string | number)[]>;

/** `?a=1&status=x&status=y`, leaving out empty values. */
export function qs(params: Query): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) for (const item of v) sp.append(k, String(item));
    else sp.append(k, String(v));
  }
  const s = sp.toString();
  return s ? `?${s}` : '';
}

interface Options {
  signal?: AbortSignal;
  /** Do not report 401s to the session (sign-in itself answers 401 for a wrong password). */
  quiet?: boolean;
}

export async function request<T>(method: string, path: string, body?: unknown, opts: Options = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network_error', 'Keydesk could not be reached. Check your connection and try again.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  // A governed workspace holds an identity change for approval: nothing changed yet, which every
  // caller must show like a refusal (the control stays as it is), with where the change waits.
  if (res.status === 202 && data && typeof data === 'object' && 'pendingChange' in data) {
    const c = (data as { pendingChange: { ticket: { ref: string } } }).pendingChange;
    throw new ApiError(
      202,
      'pending_approval',
      `Waiting for approval: this workspace governs its identity configuration, so the change takes effect when a change manager other than you approves ${c.ticket.ref} (in their Approvals). Single sign-on › Governance lists it.`,
    );
  }
  if (!res.ok) {
    const p = (data ?? {}) as { code?: string; detail?: string; errors?: FieldError[]; retryAfter?: number };
    const err = new ApiError(
      res.status,
      p.code ?? `http_${res.status}`,
      p.detail ?? (res.status >= 500 ? 'Something went wrong on our side. Please try again.' : `The request failed (${res.status}).`),
      p.errors ?? [],
      p.retryAfter,
    );
    if (!opts.quiet && authErrorHandler && (res.status === 401 || (res.status === 403 && err.code === 'password_change_required'))) {
      authErrorHandler(err);
    }
    throw err;
  }
  return data as T;
}

export const api = {
  get: <T>(path: string, opts?: Options) => request<T>('GET', path, undefined, opts),
  post: <T>(path: string, body?: unknown, opts?: Options) => request<T>('POST', path, body, opts),
  patch: <T>(path: string, body: unknown, opts?: Options) => request<T>('PATCH', path, body, opts),
  put: <T>(path: string, body: unknown, opts?: Options) => request<T>('PUT', path, body, opts),
  delete: <T>(path: string, body?: unknown, opts?: Options) => request<T>('DELETE', path, body, opts),
};

/** A message fit to show for any thrown value. */
/**
 * What to tell the person: the problem's detail, which the server words to stand on its own (a
 * validation answer names its first field), so the field list is not repeated after it.
 */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return 'Something went wrong.';
}

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

/**
 * The server's message about one field, as a sentence to show under it ("Title must have visible
 * text…"); undefined when the answer is about something else.
 */
export function fieldError(err: unknown, field: string, label: string): string | undefined {
  if (!(err instanceof ApiError)) return undefined;
  const e = err.errors.find((x) => x.field === field);
  return e ? `${label} ${e.message}.` : undefined;
}

/** Text with something visible in it: not only spaces or zero-width characters (the server's rule too). */
export function hasVisibleText(s: string): boolean {
  return /[^\s\u200B-\u200D\u2060\uFEFF]/.test(s);
}
