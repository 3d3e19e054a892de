/** Keys and list names that are not valid UTF-8 are refused with INVALID_ARGUMENT: decoded with
 * replacement they would collide (0xff and 0xfe both U+FFFD), and one key would read another's value.
 * So are keys past 255 bytes or with control characters (Tidings' name grammar). */
import { MomentoErrorCode } from '@gomomento/sdk';
import { apiKeyFor, errorCode, startMomentoServer } from '../helpers/momento.js';
import { testEachEngine } from '../helpers/server.js';
import { SDKS, kind } from '../helpers/momento-sdks.js';

for (const sdk of SDKS) {
  testEachEngine(`${sdk.name} - distinct binary keys never read each other's values`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine });
    const { cache } = await sdk.clients(t, server, await apiKeyFor(server));
    const set = await cache.set('app', new Uint8Array([0xff]), 'secret-of-key-ff');
    const got = await cache.get('app', new Uint8Array([0xfe]));
    t.not((got as { valueString?: () => string }).valueString?.(), 'secret-of-key-ff', `get(0xfe) after set(0xff): ${kind(set)} then ${got.toString()}`);
    if (kind(set) === 'Error') t.equal(errorCode(set), MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'refused as an invalid argument');
    // Tidings' name grammar, not Momento's (docs/momento-compat.md, "Known differences").
    t.equal(kind(await cache.set('app', 'k'.repeat(255), 'v')), 'Success', '255 bytes is a key');
    t.equal(errorCode(await cache.set('app', 'k'.repeat(256), 'v')), MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'past 255 bytes it is refused');
    t.equal(errorCode(await cache.get('app', 'a\tb')), MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'a control character is refused');
  });
}
