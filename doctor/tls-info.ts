/**
 * What the TLS step reports about a finished handshake: protocol, cipher, the certificate's
 * subject and names, whether it matches the host, whether a default trust store accepts it,
 * and how many days it has left.
 */
import { type PeerCertificate, type TLSSocket, checkServerIdentity } from 'node:tls';

export interface TlsInfo {
  readonly protocol: string | null;
  readonly cipher: string;
  readonly alpn: string | null;
  readonly subject: string | null;
  readonly issuer: string | null;
  /** subjectAltName entries, e.g. ["DNS:localhost", "IP Address:127.0.0.1"]. */
  readonly altNames: readonly string[];
  /** The certificate names the host we dialled (SAN, or CN when there is no SAN). */
  readonly hostMatch: boolean;
  readonly hostMismatchReason: string | null;
  /** The chain verifies against Node's trust store (plus NODE_EXTRA_CA_CERTS). */
  readonly chainTrusted: boolean;
  /** OpenSSL's reason when it does not, e.g. DEPTH_ZERO_SELF_SIGNED_CERT. */
  readonly chainError: string | null;
  readonly selfSigned: boolean;
  /** A browser would accept it: trusted chain and matching host. */
  readonly trusted: boolean;
  readonly validFrom: string | null;
  readonly validTo: string | null;
  /** Whole days until expiry (negative once expired). */
  readonly daysLeft: number | null;
}

const DAY_MS = 86_400_000;

function isoDate(text: string | undefined): string | null {
  if (!text) return null;
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

export function describeTls(socket: TLSSocket, hostname: string, now = Date.now()): TlsInfo {
  const cert = socket.getPeerCertificate() as PeerCertificate | Record<string, never>;
  const hasCert = 'subject' in cert && cert.subject !== undefined;
  const altNames = hasCert && cert.subjectaltname ? cert.subjectaltname.split(/,\s*/) : [];
  // checkServerIdentity is what https uses when verification is on; we verify by hand because
  // the socket was opened with rejectUnauthorized: false to be able to report on bad certificates.
  const identityError = hasCert
    ? checkServerIdentity(hostname, cert as PeerCertificate)
    : new Error('no certificate');
  const chainError = socket.authorizationError ? String(socket.authorizationError) : null;
  const validTo = hasCert ? isoDate(cert.valid_to) : null;
  const chainTrusted = socket.authorized;
  const hostMatch = identityError === undefined;
  return {
    protocol: socket.getProtocol(),
    cipher: socket.getCipher()?.name ?? 'unknown',
    alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
    subject: hasCert ? (firstValue(cert.subject.CN) ?? null) : null,
    issuer: hasCert && cert.issuer ? (firstValue(cert.issuer.CN) ?? null) : null,
    altNames,
    hostMatch,
    hostMismatchReason: identityError ? identityError.message : null,
    chainTrusted,
    chainError,
    selfSigned: chainError === 'DEPTH_ZERO_SELF_SIGNED_CERT' || chainError === 'SELF_SIGNED_CERT_IN_CHAIN',
    trusted: chainTrusted && hostMatch,
    validFrom: hasCert ? isoDate(cert.valid_from) : null,
    validTo,
    daysLeft: validTo === null ? null : Math.floor((Date.parse(validTo) - now) / DAY_MS),
  };
}

/** Certificate fields may repeat; Node then gives an array. */
function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
