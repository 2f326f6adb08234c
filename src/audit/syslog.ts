import { X509Certificate } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { isPublicAddress } from '../http/outbound.js';
import { entryObject } from './export.js';
import type { AuditEntry } from './query.js';

/**
 * Audit events to a SIEM over syslog: RFC 5424 messages, framed by octet counting (RFC 5425 §4.3,
 * RFC 6587 §3.4.1) over TLS (RFC 5425), on a connection Keydesk opens to the tenant's collector.
 */

/** IANA's port for syslog over TLS (RFC 5425 §4.1). */
export const SYSLOG_TLS_PORT = 6514;
/** Facility 13, "log audit" (RFC 5424 §6.2.1, table 1): what these events are. */
export const SYSLOG_FACILITY = 13;
/** Severity by outcome (RFC 5424 table 2): 5 notice for a success, 4 warning for a failure. */
export const SEVERITY = { success: 5, failure: 4 } as const;
/**
 * The SD-ID of Keydesk's structured data: a name@<private enterprise number> (RFC 5424 §7.2.2);
 * 32473 is the PEN reserved for documentation (RFC 5612).
 */
export const SD_ID = 'keydesk@32473';
/** RFC 5425 §4.3.1: receivers SHOULD take 8192 octets; a longer event is sent without its details. */
export const MAX_MESSAGE_OCTETS = 8192;
/** An SD-PARAM value is cut to this many characters (the whole event is in the MSG). */
const MAX_PARAM_CHARS = 512;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** RFC 5424 §6.3.3: `"`, `\` and `]` in a PARAM-VALUE are escaped with a backslash. */
export function sdEscape(value: string): string {
  return value.replace(/["\\\]]/g, '\\$&');
}

/** A header field (HOSTNAME, MSGID…): PRINTUSASCII only (33–126), at most `max` octets, `-` when empty. */
function headerField(value: string, max: number): string {
  const s = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return s || '-';
}

function cut(value: string): string {
  return value.length > MAX_PARAM_CHARS ? `${value.slice(0, MAX_PARAM_CHARS - 1)}…` : value;
}

export interface SyslogSource {
  /** The tenant's slug, in the structured data and the MSG. */
  tenant: string;
  /** HOSTNAME: the host of Keydesk's public URL (every node says the same). */
  hostname: string;
}

/**
 * One audit event as an RFC 5424 SYSLOG-MSG (§6), as bytes:
 * `<PRI>1 TIMESTAMP HOSTNAME keydesk - MSGID [keydesk@32473 tenant=… eventId=… …] BOM{JSON}`.
 * PRI is facility 13 × 8 + severity (notice for a success, warning for a failure); TIMESTAMP the
 * event's time in UTC with milliseconds; MSGID the action (at most 32 characters); the SD element
 * carries tenant, eventId, action, actor, actorId, outcome, reason, targetType, targetId,
 * targetLabel and ip (those that are set, values escaped per §6.3.3); MSG is UTF-8 with a BOM
 * (§6.4): the event as JSON, as the list API and the JSON Lines export give it, plus `tenant`. An
 * event longer than MAX_MESSAGE_OCTETS loses its `details` (and says `detailsTruncated`).
 */
export function syslogMessage(e: AuditEntry, source: SyslogSource): Buffer {
  const pri = SYSLOG_FACILITY * 8 + SEVERITY[e.outcome];
  const header = `<${pri}>1 ${new Date(e.occurredAt).toISOString()} ${headerField(source.hostname, 255)} keydesk - ${headerField(e.action, 32)}`;
  const params: [string, string | number | null][] = [
    ['tenant', source.tenant],
    ['eventId', e.id],
    ['action', e.action],
    ['actor', e.actorLabel],
    ['actorId', e.actorId],
    ['outcome', e.outcome],
    ['reason', e.reason],
    ['targetType', e.targetType],
    ['targetId', e.targetId],
    ['targetLabel', e.targetLabel],
    ['ip', e.ip],
  ];
  const sd = `[${SD_ID}${params
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => ` ${k}="${sdEscape(cut(String(v)))}"`)
    .join('')}]`;
  const head = Buffer.from(`${header} ${sd} `, 'utf8');
  const body = (o: Record<string, unknown>) => Buffer.concat([head, BOM, Buffer.from(JSON.stringify(o), 'utf8')]);
  const full = { ...entryObject(e), tenant: source.tenant };
  let msg = body(full);
  if (msg.length > MAX_MESSAGE_OCTETS) msg = body({ ...full, details: {}, detailsTruncated: true });
  if (msg.length > MAX_MESSAGE_OCTETS) msg = body({ id: e.id, tenant: source.tenant, action: e.action, outcome: e.outcome, truncated: true });
  return msg;
}

/** Octet-counting framing (RFC 5425 §4.3, RFC 6587 §3.4.1): `MSG-LEN SP SYSLOG-MSG`, the length in octets. */
export function frame(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}

/** Where a tenant's events go. */
export interface SyslogTarget {
  host: string;
  port: number;
  /** PEM certificates to trust instead of Node's roots (a private CA); null: the usual roots. */
  caPem: string | null;
  /** The TLS server name (SNI) and the name the certificate must carry; null: the host. */
  servername: string | null;
}

export type SyslogErrorCode =
  | 'address_refused'
  | 'host_not_found'
  | 'connection_refused'
  | 'timeout'
  | 'untrusted_certificate'
  | 'expired_certificate'
  | 'name_mismatch'
  | 'not_tls'
  | 'tls_version'
  | 'client_certificate_required'
  | 'handshake_failed'
  | 'connection_closed'
  | 'network_error';

/** A delivery that could not happen, said in plain words (`message`) with a stable `code`. */
export class SyslogError extends Error {
  constructor(
    readonly code: SyslogErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'INVALID_CA',
]);

/** Any error from resolving, connecting, the handshake or a write, as a SyslogError an admin can act on. */
export function explainSyslogError(err: unknown, target: SyslogTarget): SyslogError {
  if (err instanceof SyslogError) return err;
  const e = err as NodeJS.ErrnoException & { reason?: string; cert?: { subjectaltname?: string; subject?: { CN?: string } } };
  const code = e?.code ?? '';
  const where = `${target.host}:${target.port}`;
  const name = target.servername ?? target.host;
  if (UNTRUSTED.has(code)) {
    return new SyslogError(
      'untrusted_certificate',
      `The certificate of ${where} is not trusted: it is not issued by ${target.caPem ? 'the CA certificate given here' : 'a certificate authority Keydesk trusts'}${code.includes('SELF_SIGNED') ? ' (it is self-signed)' : ''}. ${target.caPem ? 'Give the CA that issued the server certificate.' : 'If your SIEM uses a private CA, paste its CA certificate.'}`,
    );
  }
  if (code === 'CERT_HAS_EXPIRED') return new SyslogError('expired_certificate', `The certificate of ${where} has expired. Renew it on the SIEM's side.`);
  if (code === 'CERT_NOT_YET_VALID') return new SyslogError('expired_certificate', `The certificate of ${where} is not valid yet (check the clocks and the certificate's start date).`);
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = e.cert?.subjectaltname ?? (e.cert?.subject?.CN ? `CN=${e.cert.subject.CN}` : 'other names');
    return new SyslogError('name_mismatch', `The certificate of ${where} is not for ${name}: it names ${names}. Connect by a name the certificate carries, or set the TLS server name.`);
  }
  if (code === 'ECONNREFUSED') return new SyslogError('connection_refused', `The connection to ${where} was refused: nothing listens on that port. Check the port and that the SIEM's TLS syslog input is on.`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENODATA') return new SyslogError('host_not_found', `${target.host} could not be found in DNS.`);
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new SyslogError('timeout', `${where} did not answer (${code === 'ETIMEDOUT' ? 'timed out' : 'unreachable'}): a firewall may be dropping the connection.`);
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'ERR_SSL_HTTP_REQUEST') {
    return new SyslogError('not_tls', `${where} does not speak TLS: is it a plain TCP or UDP syslog port? Use the SIEM's TLS input (usually port ${SYSLOG_TLS_PORT}).`);
  }
  if (/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE/.test(code)) {
    return new SyslogError('tls_version', `${where} and Keydesk share no TLS version: Keydesk needs TLS 1.2 or newer.`);
  }
  if (/CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|BAD_CERTIFICATE/.test(code)) {
    return new SyslogError('client_certificate_required', `${where} refused the TLS handshake (${code}); it may ask for a client certificate, which Keydesk does not send. Allow server-authenticated TLS on the SIEM's input.`);
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) return new SyslogError('handshake_failed', `The TLS handshake with ${where} failed (${code}).`);
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END') {
    return new SyslogError('connection_closed', `${where} closed the connection${code === 'ECONNRESET' ? ' (before or during the TLS handshake: is it a TLS port?)' : ''}.`);
  }
  return new SyslogError('network_error', `Could not deliver to ${where}: ${e?.message ?? String(err)}`);
}

/**
 * The address to connect to: the host's first address, when every address it resolves to is public
 * (the webhooks' rule, `isPublicAddress`) or the operator allows private ones
 * (KEYDESK_WEBHOOK_ALLOW_PRIVATE). The connection goes to the checked address.
 * @throws SyslogError `address_refused` or `host_not_found`
 */
export async function resolveSyslogHost(host: string, allowPrivate: boolean): Promise<string> {
  const bare = host.replace(/^\[|\]$/g, '');
  const refused = (address: string) =>
    new SyslogError('address_refused', `${host} ${bare === address ? 'is' : `resolves to ${address}, which is`} not a public address: Keydesk does not connect into its own network unless the operator allows it (KEYDESK_WEBHOOK_ALLOW_PRIVATE).`);
  if (isIP(bare)) {
    if (!allowPrivate && !isPublicAddress(bare)) throw refused(bare);
    return bare;
  }
  let addresses: { address: string }[];
  try {
    addresses = await lookup(bare, { all: true });
  } catch (err) {
    throw explainSyslogError(err, { host, port: 0, caPem: null, servername: null });
  }
  if (!addresses.length) throw new SyslogError('host_not_found', `${host} could not be found in DNS.`);
  const bad = allowPrivate ? undefined : addresses.find((a) => !isPublicAddress(a.address));
  if (bad) throw refused(bad.address);
  return addresses[0]!.address;
}

/** An open TLS connection to a collector. */
export interface SyslogConnection {
  /** The negotiated protocol, e.g. `TLSv1.3`. */
  protocol: string;
  /** Writes the bytes and resolves once they are flushed to the socket. @throws SyslogError */
  send(data: Buffer): Promise<void>;
  /** Ends the connection (TLS close_notify, FIN) and waits for it to close, at most a few seconds. */
  close(): Promise<void>;
}

/**
 * Opens a TLS connection (TLS 1.2 or newer, the certificate verified against the CA given or
 * Node's roots and against the server name; never unverified) to the target's checked address.
 * @throws SyslogError with the reason in plain words
 */
export async function connectSyslog(target: SyslogTarget, opts: { allowPrivate: boolean; timeoutMs?: number }): Promise<SyslogConnection> {
  try {
    return await openConnection(target, opts);
  } catch (err) {
    throw explainSyslogError(err, target);
  }
}

async function openConnection(target: SyslogTarget, opts: { allowPrivate: boolean; timeoutMs?: number }): Promise<SyslogConnection> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const address = await resolveSyslogHost(target.host, opts.allowPrivate);
  const bare = target.host.replace(/^\[|\]$/g, '');
  const name = target.servername ?? bare;
  // Errors after the handshake surface through the next write: the listener stays for the socket's life.
  let failure: unknown = null;
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    let settled = false;
    const s = tls.connect({
      host: address,
      port: target.port,
      // SNI is a name, never an address (RFC 6066 §3).
      servername: isIP(name) ? undefined : name,
      ca: target.caPem ?? undefined,
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
    });
    const timer = setTimeout(() => {
      settled = true;
      s.destroy();
      reject(new SyslogError('timeout', `${target.host}:${target.port} did not complete a TLS handshake within ${Math.round(timeoutMs / 1000)} seconds: a firewall may be dropping the connection, or it is not a TLS port.`));
    }, timeoutMs);
    s.once('secureConnect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(s);
    });
    s.on('error', (err) => {
      failure ??= err;
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      reject(explainSyslogError(err, target));
    });
  });
  socket.setNoDelay(true);
  return {
    protocol: socket.getProtocol() ?? 'TLS',
    send: (data) =>
      new Promise<void>((resolve, reject) => {
        if (failure || socket.destroyed || socket.writableEnded) {
          reject(explainSyslogError(failure ?? Object.assign(new Error('closed'), { code: 'EPIPE' }), target));
          return;
        }
        const timer = setTimeout(() => {
          socket.destroy();
          reject(new SyslogError('timeout', `${target.host}:${target.port} stopped reading: nothing could be written for ${Math.round(timeoutMs / 1000)} seconds.`));
        }, timeoutMs);
        socket.write(data, (err) => {
          clearTimeout(timer);
          if (err || failure) reject(explainSyslogError(err ?? failure, target));
          else resolve();
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        const timer = setTimeout(() => {
          socket.destroy();
          resolve();
        }, 3000);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.end();
      }),
  };
}

/**
 * The CA certificates in a pasted text: every PEM CERTIFICATE block, each of which must parse;
 * anything around them (comments, "Bag Attributes") is dropped. At most 20.
 * @returns the blocks joined by newlines, and what each one is
 * @throws Error with a sentence for the admin when there is none or one does not parse
 */
export function parseCaCertificates(text: string): { pem: string; certificates: { subject: string; notAfter: Date; sha256: string }[] } {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) throw new Error('must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)');
  if (blocks.length > 20) throw new Error('may hold at most 20 certificates');
  const certificates = blocks.map((b, i) => {
    try {
      const c = new X509Certificate(b);
      return { subject: c.subject.replace(/\n/g, ', '), notAfter: new Date(c.validTo), sha256: c.fingerprint256 };
    } catch {
      throw new Error(`holds a certificate (number ${i + 1}) that cannot be read`);
    }
  });
  return { pem: blocks.join('\n') + '\n', certificates };
}
