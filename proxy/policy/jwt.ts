/**
 * JWT verification before the 101 (jose): against a JWKS URL, a PEM public key (text or file),
 * or an HMAC secret. The principal claim (default `sub`) becomes the client id.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { SidecarConfig } from '../config/sidecar-options.js';
import { ConfigError } from '../errors.js';
import { findToken } from './token.js';
import type { CheckVerdict } from './types.js';

function loadKey(spec: string): KeyObject {
  const pem = spec.includes('-----BEGIN') ? spec : existsSync(spec) ? readFileSync(spec, 'utf8') : null;
  if (pem === null) return createSecretKey(Buffer.from(spec, 'utf8'));
  try {
    return createPublicKey(pem);
  } catch (err) {
    throw new ConfigError('--jwt-key', `not a usable PEM public key: ${(err as Error).message}`);
  }
}

const deny = (message: string): CheckVerdict => ({ ok: false, status: 401, reason: 'auth', message });

export function jwtCheck(config: SidecarConfig): (req: IncomingMessage) => Promise<CheckVerdict> {
  const key: KeyObject | JWTVerifyGetKey = config.jwtJwksUrl
    ? createRemoteJWKSet(config.jwtJwksUrl, { timeoutDuration: config.forwardAuthTimeout })
    : loadKey(config.jwtKey!);
  const options = {
    ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
    ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
  };
  return async (req) => {
    const token = findToken(req, config.jwtTokenFrom);
    if (!token) return deny('socketlens: a token is required');
    try {
      const { payload } =
        typeof key === 'function'
          ? await jwtVerify(token, key, options)
          : await jwtVerify(token, key, options);
      const principal = payload[config.jwtPrincipalClaim];
      return {
        ok: true,
        principal:
          typeof principal === 'string' || typeof principal === 'number' ? String(principal) : undefined,
      };
    } catch (err) {
      return deny(`socketlens: invalid token (${(err as { code?: string }).code ?? 'ERR_JWT'})`);
    }
  };
}
