/**
 * A throwaway self-signed certificate for the TLS edge, made with the real `openssl`.
 * EC P-256 keeps generation in the milliseconds; the SAN covers both names a test may dial.
 * Clients must opt out of verification (`rejectUnauthorized: false`) or trust `certPath`.
 */
import { join } from 'node:path';
import { findBinary } from './binaries.js';
import { runCommand } from './command.js';

export interface CertFiles {
  certPath: string;
  keyPath: string;
}

export async function makeSelfSignedCert(dir: string, commonName = 'localhost'): Promise<CertFiles> {
  const certPath = join(dir, 'edge.crt');
  const keyPath = join(dir, 'edge.key');
  await runCommand(findBinary('openssl'), [
    'req',
    '-x509',
    '-nodes',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '7',
    '-subj',
    `/CN=${commonName}`,
    '-addext',
    `subjectAltName=DNS:${commonName},IP:127.0.0.1`,
  ]);
  return { certPath, keyPath };
}
