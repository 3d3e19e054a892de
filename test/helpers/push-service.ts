/** Plays a browser and its push service, offline: makes a subscription's keys as a browser would
 * (P-256 key pair + 16-byte auth secret), and decrypts what the server POSTs (RFC 8291 aes128gcm,
 * with node:crypto only) and checks its VAPID JWT (RFC 8292) against the server's public key. */
import { createDecipheriv, createECDH, hkdfSync, randomBytes, type ECDH } from 'node:crypto';
import { decodeProtectedHeader, importJWK, jwtVerify, type JWTPayload } from 'jose';
import type { IncomingHttpHeaders } from 'node:http';

export interface BrowserSubscription {
  json: { endpoint: string; keys: { p256dh: string; auth: string } };
  ecdh: ECDH;
  auth: Buffer;
}

export function browserSubscription(endpoint: string): BrowserSubscription {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return { ecdh, auth, json: { endpoint, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } } };
}

/** RFC 8291 §3.4 + RFC 8188: one aes128gcm record. */
export function decrypt(sub: BrowserSubscription, body: Buffer): string {
  const salt = body.subarray(0, 16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  const uaPublic = sub.ecdh.getPublicKey();
  const ecdhSecret = sub.ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, sub.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 0x02, then zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('no last-record delimiter');
  return padded.subarray(0, end).toString('utf8');
}

/** Checks `Authorization: vapid t=<jwt>, k=<key>`: k is the server's key and signed the JWT
 * (ES256), for this push service's origin, not expired. Returns the JWT claims. */
export async function verifyVapid(headers: IncomingHttpHeaders, expectedKey: string, audience: string): Promise<JWTPayload> {
  const match = /^vapid t=([^,\s]+),\s*k=(\S+)$/.exec(headers['authorization'] ?? '');
  if (!match) throw new Error(`no vapid authorization: ${headers['authorization']}`);
  const [, jwt, k] = match;
  if (k !== expectedKey) throw new Error('VAPID key is not the server\'s');
  const raw = Buffer.from(k, 'base64url');
  const key = await importJWK({ kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33, 65).toString('base64url') }, 'ES256');
  if (decodeProtectedHeader(jwt!).alg !== 'ES256') throw new Error('VAPID JWT must be ES256');
  const { payload } = await jwtVerify(jwt!, key, { audience });
  return payload;
}
