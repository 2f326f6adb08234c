import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, request } from 'undici';

/**
 * Calls Keydesk makes to addresses a tenant admin chose (webhook endpoints): never into the
 * operator's own network unless the operator allows it (KEYDESK_WEBHOOK_ALLOW_PRIVATE). The check
 * is made on the addresses the name resolves to at connect time, and the connection goes to a
 * checked address, so DNS rebinding cannot slip past it; redirects are not followed.
 */

/** Public unicast only: not loopback, private, link-local, unique-local, carrier-grade NAT, unspecified, multicast or reserved (IPv4-mapped IPv6 unwrapped first). */
export function isPublicAddress(address: string): boolean {
  try {
    const ip = ipaddr.process(address.replace(/^\[|\]$/g, ''));
    // IPv4-compatible IPv6 (::a.b.c.d, deprecated by RFC 4291 §2.5.5.1) is judged by its IPv4 address.
    if (ip.kind() === 'ipv6') {
      const parts = (ip as ipaddr.IPv6).parts;
      if (parts.slice(0, 6).every((p) => p === 0)) {
        const v4 = ipaddr.fromByteArray([parts[6]! >> 8, parts[6]! & 255, parts[7]! >> 8, parts[7]! & 255]);
        return v4.range() === 'unicast';
      }
    }
    return ip.range() === 'unicast';
  } catch {
    return false;
  }
}

export class OutboundRefused extends Error {}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A dns.lookup for undici's connector that refuses a name if any of its addresses is not public. */
function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: { all?: boolean; family?: number } | undefined, callback: LookupCallback) => {
    dnsLookup(hostname, { all: true, family: options?.family ?? 0 }, (err, addresses) => {
      if (err) return callback(err, '');
      const list = addresses as LookupAddress[];
      const bad = allowPrivate ? undefined : list.find((a) => !isPublicAddress(a.address));
      if (bad || !list.length) {
        return callback(Object.assign(new OutboundRefused(`${hostname} resolves to ${bad?.address ?? 'nothing'}, which is not a public address`), { code: 'EOUTBOUNDREFUSED' }), '');
      }
      if (options?.all) return callback(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

const agents = new Map<boolean, Agent>();
function agentFor(allowPrivate: boolean): Agent {
  let agent = agents.get(allowPrivate);
  if (!agent) {
    agent = new Agent({ connect: { lookup: guardedLookup(allowPrivate) as never, timeout: 10_000 } });
    agents.set(allowPrivate, agent);
  }
  return agent;
}

/**
 * POSTs a body to a tenant-chosen URL. http(s) only; a literal address must be public (names are
 * checked when connecting); no redirects (a 3xx is the answer); an answer within 15 seconds, the
 * whole call within 20 (then it is aborted).
 * @returns the status and how long it took (ms)
 * @throws OutboundRefused when the URL or its addresses are not allowed; undici's errors on network failure
 */
export async function postOutbound(url: string, body: string, headers: Record<string, string>, opts: { allowPrivate: boolean; timeoutMs?: number }): Promise<{ status: number; ms: number }> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OutboundRefused('not an absolute URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new OutboundRefused('only http and https URLs are called');
  if (u.username || u.password) throw new OutboundRefused('URLs with credentials are not called');
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && !opts.allowPrivate && !isPublicAddress(host)) throw new OutboundRefused(`${host} is not a public address`);
  const started = performance.now();
  const res = await request(u, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
    dispatcher: agentFor(opts.allowPrivate),
    headersTimeout: opts.timeoutMs ?? 15_000,
    bodyTimeout: opts.timeoutMs ?? 15_000,
    // One deadline for the whole call: a receiver dripping a byte at a time restarts the body
    // timeout with every chunk, and would hold the worker for days.
    signal: AbortSignal.timeout((opts.timeoutMs ?? 15_000) + 5_000),
  });
  await res.body.dump({ limit: 64 * 1024 });
  return { status: res.statusCode, ms: Math.round(performance.now() - started) };
}
