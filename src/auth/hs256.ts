/** HS256 JWT verification with node:crypto. jose's verify goes through WebCrypto and measured
 * ~115 µs of CPU per token here, against ~10 µs for this path, and a connect verifies one token.
 * Minting stays with jose. Only HS256 is accepted: the header's alg must be exactly "HS256". */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface Hs256Key { kid: string; secret: Uint8Array }
export interface ClaimRules { issuer: string; audience: string; clockToleranceSec: number; nowMs: number }

/** Why a token was refused; the message is safe to show to the client. */
export class TokenRejected extends Error {}

const B64URL = /^[A-Za-z0-9_-]*$/;

export function verifyHs256(token: string, keys: readonly Hs256Key[], rules: ClaimRules): Record<string, unknown> {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) throw new TokenRejected('token is malformed');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJson(headerPart);
  if (header['alg'] !== 'HS256') throw new TokenRejected('token algorithm is not allowed');
  if (header['crit'] !== undefined) throw new TokenRejected('token is malformed');
  const key = keys.find((k) => k.kid === header['kid']);
  if (!key) throw new TokenRejected('token signature is invalid');
  const expected = createHmac('sha256', key.secret).update(`${headerPart}.${payloadPart}`).digest();
  const given = Buffer.from(signaturePart, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new TokenRejected('token signature is invalid');

  const claims = decodeJson(payloadPart);
  const nowSec = rules.nowMs / 1000;
  const tolerance = rules.clockToleranceSec;
  for (const claim of ['exp', 'nbf', 'iat'] as const) {
    if (claims[claim] !== undefined && (typeof claims[claim] !== 'number' || !Number.isFinite(claims[claim]))) {
      throw new TokenRejected(`token claim "${claim}" is invalid`);
    }
  }
  if (typeof claims['exp'] === 'number' && claims['exp'] <= nowSec - tolerance) throw new TokenRejected('token has expired');
  if (typeof claims['nbf'] === 'number' && claims['nbf'] > nowSec + tolerance) throw new TokenRejected('token is not valid yet');
  if (claims['iss'] !== rules.issuer) throw new TokenRejected('token claim "iss" is invalid');
  const aud = claims['aud'];
  if (!(aud === rules.audience || (Array.isArray(aud) && aud.includes(rules.audience)))) throw new TokenRejected('token claim "aud" is invalid');
  return claims;
}

function decodeJson(part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new TokenRejected('token is malformed');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TokenRejected('token is malformed');
  return value as Record<string, unknown>;
}
