/** Token verification (every hello and auth): TokenAuthority.verify, sequential and with 64
 * verifications in flight (as when many clients connect at once). Two reference lines show what
 * the HMAC itself costs: jose with a pre-imported CryptoKey, and a synchronous node:crypto HMAC
 * check of the same JWT (signature only, no claims), for the report's optimisation notes.
 *   node --import tsx bench/micro/tokens.ts */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { jwtVerify } from 'jose';
import { TokenAuthority, generateSigningKey } from '../../src/auth/tokens.js';
import { resolveConfig } from '../../src/core/config.js';
import { systemClock } from '../../src/core/clock.js';
import { PermissionScopes } from '../../src/protocol/index.js';
import { consume, measure, runIfMain, type MicroResult } from './harness.js';

export async function tokensMicro(ms = 1000): Promise<MicroResult[]> {
  const key = generateSigningKey();
  const config = resolveConfig({ auth: { signingKeys: [key] } }).auth;
  const authority = new TokenAuthority(config, [key], systemClock);
  const { token } = await authority.mintDisposableToken({ scope: PermissionScopes.topicPublishSubscribe('bench', '*'), expiresInSec: 3600, tokenId: 'user-17' });
  const secret = Buffer.from(key, 'base64url');
  const cryptoKey = await crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const [h, p, sig] = token.split('.') as [string, string, string];
  const sigBytes = Buffer.from(sig, 'base64url');
  const parallel = (fn: () => Promise<unknown>) => async () => { await Promise.all(Array.from({ length: 64 }, fn)); };
  return [
    await measure('tokens', 'TokenAuthority.verify (sync)', () => consume(authority.verify(token)), { ms, batch: 50 }),
    await measure('tokens', 'ref: jose jwtVerify with pre-imported CryptoKey, 64 in flight', parallel(() => jwtVerify(token, cryptoKey, { algorithms: ['HS256'] })), { ms, batch: 1, async: true }).then(per(64)),
    await measure('tokens', 'ref: node:crypto HMAC-SHA256 check + JSON.parse (sync)', () => {
      const mac = createHmac('sha256', secret).update(`${h}.${p}`).digest();
      consume(timingSafeEqual(mac, sigBytes) && JSON.parse(Buffer.from(p, 'base64url').toString('utf8')));
    }, { ms, batch: 200 }),
  ];
}

/** A measurement of a 64-wide batch, restated per verification. */
function per(n: number) {
  return (r: MicroResult): MicroResult => ({ ...r, nsPerOp: r.nsPerOp / n, opsPerSec: r.opsPerSec * n, samples: r.samples.map((s) => s / n) });
}

runIfMain('tokens.ts', () => tokensMicro());
