import t from 'tap';
import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { Hs256Verifier, TokenRejected } from '../../../src/auth/hs256.js';

const secret = new Uint8Array(32).fill(7);
const keys = [{ kid: 'k1', secret }];
// One verifier for every case, so a header it remembered from an accepted token is reused by the
// refused ones (a known header must never skip the signature or claim checks).
const verifier = new Hs256Verifier(keys);
const verifyHs256 = (token: string, _keys: typeof keys, r: typeof rules) => verifier.verify(token, r);
const nowMs = 1_800_000_000_000;
const rules = { issuer: 'tidings', audience: 'tidings', clockToleranceSec: 5, nowMs };
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const sign = (header: unknown, payload: unknown, key = secret) => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
};
const claims = { iss: 'tidings', aud: 'tidings', exp: nowMs / 1000 + 60 };
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** The other texts that decode to the same signature: a 32-byte MAC takes 43 characters, whose
 * last has two spare low bits, ignored by a base64url decoder. */
const sameMacTexts = (token: string): string[] => {
  const last = BASE64URL.indexOf(token.at(-1)!);
  return [0, 1, 2, 3].map((bits) => token.slice(0, -1) + BASE64URL[(last & ~3) | bits]!).filter((text) => text !== token);
};

t.test('hs256 - accepts what jose mints, with the same claims', async (t) => {
  const token = await new SignJWT({ x: 1 }).setProtectedHeader({ alg: 'HS256', kid: 'k1' })
    .setIssuer('tidings').setAudience(['other', 'tidings']).setExpirationTime(nowMs / 1000 + 60).sign(secret);
  t.match(verifyHs256(token, keys, rules), { x: 1, iss: 'tidings' });
});

t.test('hs256 - refuses every malformed or foreign shape with a safe reason', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['two parts', 'a.b', /malformed/],
    ['four parts', 'a.b.c.d', /malformed/],
    ['not base64url', 'a+b.c.d', /malformed/],
    ['header not JSON', `${b64('nope')}.${b64(claims)}.x`, /malformed/],
    ['header is an array', `${b64([1])}.${b64(claims)}.x`, /malformed/],
    ['alg none, no signature', `${b64({ alg: 'none' })}.${b64(claims)}.`, /algorithm is not allowed/],
    ['alg lowercase', sign({ alg: 'hs256', kid: 'k1' }, claims), /algorithm is not allowed/],
    ['alg HS512', sign({ alg: 'HS512', kid: 'k1' }, claims), /algorithm is not allowed/],
    ['alg RS256', sign({ alg: 'RS256', kid: 'k1' }, claims), /algorithm is not allowed/],
    ['crit header', sign({ alg: 'HS256', kid: 'k1', crit: ['b64'] }, claims), /malformed/],
    ['unknown kid', sign({ alg: 'HS256', kid: 'k9' }, claims), /signature is invalid/],
    ['no kid', sign({ alg: 'HS256' }, claims), /signature is invalid/],
    ['other key', sign({ alg: 'HS256', kid: 'k1' }, claims, new Uint8Array(32).fill(8)), /signature is invalid/],
    ['truncated signature', sign({ alg: 'HS256', kid: 'k1' }, claims).slice(0, -3), /signature is invalid/],
    ...sameMacTexts(sign({ alg: 'HS256', kid: 'k1' }, claims)).map((text, i): [string, string, RegExp] => [`the signature's spare bits set otherwise (${i + 1} of 3)`, text, /signature is invalid/]),
    ['signature padded', `${sign({ alg: 'HS256', kid: 'k1' }, claims)}=`, /malformed/],
    ['payload not an object', sign({ alg: 'HS256', kid: 'k1' }, 'str'), /malformed/],
    ['exp is a string', sign({ alg: 'HS256', kid: 'k1' }, { ...claims, exp: '9999999999' }), /"exp" is invalid/],
    // JSON.parse reads a number past a double's range as Infinity: a token that would never expire.
    ['exp overflows to Infinity', sign({ alg: 'HS256', kid: 'k1' }, '{"iss":"tidings","aud":"tidings","exp":1e999}'), /"exp" is invalid/],
    ['expired beyond tolerance', sign({ alg: 'HS256', kid: 'k1' }, { ...claims, exp: nowMs / 1000 - 6 }), /expired/],
    ['expired exactly at the tolerance', sign({ alg: 'HS256', kid: 'k1' }, { ...claims, exp: nowMs / 1000 - 5 }), /expired/],
    ['not yet valid beyond tolerance', sign({ alg: 'HS256', kid: 'k1' }, { ...claims, nbf: nowMs / 1000 + 6 }), /not valid yet/],
    ['wrong issuer', sign({ alg: 'HS256', kid: 'k1' }, { ...claims, iss: 'x' }), /"iss"/],
    ['no audience', sign({ alg: 'HS256', kid: 'k1' }, { iss: 'tidings', exp: claims.exp }), /"aud"/],
  ];
  for (const [name, token, message] of cases) {
    let caught: unknown;
    try { verifyHs256(token, keys, rules); } catch (err) { caught = err; }
    t.ok(caught instanceof TokenRejected, `${name}: refused`);
    t.match((caught as Error).message, message, `${name}: says why`);
  }
  t.ok(verifyHs256(sign({ alg: 'HS256', kid: 'k1' }, { ...claims, exp: nowMs / 1000 - 4 }), keys, rules), 'within the clock tolerance');
});

t.test('hs256 - accepts and refuses exactly what jose jwtVerify does (generated tokens)', async (t) => {
  const { jwtVerify } = await import('jose');
  const fc = (await import('fast-check')).default;
  const other = new Uint8Array(32).fill(9);
  const nowSec = nowMs / 1000;
  // Claims around the boundaries that matter: expiry and not-before within and beyond the tolerance.
  const time = fc.oneof(fc.integer({ min: nowSec - 10, max: nowSec + 10 }), fc.constant('soon'), fc.constant(undefined));
  // A well-formed token with claims near the time boundaries, then at most one other defect.
  const token = fc.record({
    typ: fc.constantFrom(undefined, 'JWT', 'at+jwt'),
    aud: fc.constantFrom('tidings', ['x', 'tidings']),
    exp: time, nbf: time, iat: time,
    defect: fc.constantFrom('none', 'none', 'none', 'alg HS384', 'alg none', 'alg hs256', 'crit', 'iss', 'no iss', 'aud', 'no aud', 'key', 'signature', 'payload'),
  });
  let accepted = 0;
  await fc.assert(fc.asyncProperty(token, async (g) => {
    const d = g.defect;
    const header: Record<string, unknown> = { alg: d.startsWith('alg ') ? d.slice(4) : 'HS256', kid: 'k1' };
    if (g.typ !== undefined) header['typ'] = g.typ;
    if (d === 'crit') header['crit'] = ['exp'];
    const payload: Record<string, unknown> = { x: 1, iss: d === 'iss' ? 'other' : 'tidings', aud: d === 'aud' ? ['x'] : g.aud };
    if (d === 'no iss') delete payload['iss'];
    if (d === 'no aud') delete payload['aud'];
    for (const k of ['exp', 'nbf', 'iat'] as const) if (g[k] !== undefined) payload[k] = g[k];
    let jwt = sign(header, payload, d === 'key' ? other : secret);
    if (d === 'signature') jwt = `${jwt.slice(0, -2)}${jwt.endsWith('AA') ? 'BA' : 'AA'}`;
    if (d === 'payload') jwt = jwt.replace(/\.[^.]+\./, `.${b64({ ...payload, x: 2 })}.`);
    const ours = (() => { try { return verifyHs256(jwt, keys, rules) !== undefined; } catch (err) { if (!(err instanceof TokenRejected)) throw err; return false; } })();
    const theirs = await jwtVerify(jwt, secret, { algorithms: ['HS256'], issuer: 'tidings', audience: 'tidings', clockTolerance: 5, currentDate: new Date(nowMs) })
      .then(() => true, () => false);
    if (ours) accepted++;
    return ours === theirs;
  }), { numRuns: 400, seed: 16 });
  t.ok(accepted > 0, `some generated tokens were accepted (${accepted}), so the property compared both outcomes`);
});

t.test('hs256 - the headers it remembers are bounded, though any header naming a known kid passes before the signature is checked', async (t) => {
  const fresh = new Hs256Verifier(keys);
  // Distinct headers under the real kid with a wrong signature: no key needed to send them.
  let refused = 0;
  for (let i = 0; i < 200; i++) {
    try { fresh.verify(sign({ alg: 'HS256', kid: 'k1', n: i }, claims, new Uint8Array(32).fill(8)), rules); } catch (err) { if (err instanceof TokenRejected) refused++; }
  }
  t.equal(refused, 200, 'every one refused');
  // Read through the private field: what is held is the point, and nothing else shows it.
  const held = (fresh as unknown as { headers: Map<string, unknown> }).headers.size;
  t.ok(held > 0 && held <= 32, `at most 32 headers held (${held})`);
  t.ok(fresh.verify(sign({ alg: 'HS256', kid: 'k1' }, claims), rules), 'and a good token still verifies');
});
