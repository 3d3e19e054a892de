/** VAPID settings are checked at startup: `tidings serve` with a malformed key pair or subject refuses to start
 * with one line naming the setting (never the key) and a non-zero exit, instead of starting and
 * then failing every push (each failure would remove a user's push subscription). */
import t from 'tap';
import webpush from 'web-push';
import { generateSigningKey, resolveConfig } from '../../src/index.js';
import { configFromEnv } from '../../src/cli/env.js';
import { cliInProcess } from '../helpers/cli.js';

/** Runs `tidings serve` in process (test/helpers/cli.ts) until it refuses; one that starts instead
 * rejects after a bound, with what it printed. */
function serve(env: Record<string, string>) {
  return cliInProcess(['serve', '--port', '0'], { TIDINGS_SIGNING_KEY: generateSigningKey(), TIDINGS_VAPID_SUBJECT: 'mailto:ops@example.com', ...env });
}

t.test('cli - malformed VAPID keys or subject refuse to start, naming the setting, never the key', async (t) => {
  const good = webpush.generateVAPIDKeys();
  const cases: Array<[string, Record<string, string>, RegExp, string]> = [
    ['a private key that is not 32 bytes', { TIDINGS_VAPID_PUBLIC_KEY: good.publicKey, TIDINGS_VAPID_PRIVATE_KEY: 'notAVapidKeyButASecretSECRET' }, /push\.vapidPrivateKey/, 'notAVapidKeyButASecretSECRET'],
    ['a public key that is not 65 bytes', { TIDINGS_VAPID_PUBLIC_KEY: good.privateKey, TIDINGS_VAPID_PRIVATE_KEY: good.privateKey }, /push\.vapidPublicKey/, good.privateKey],
    ['keys with base64 padding', { TIDINGS_VAPID_PUBLIC_KEY: good.publicKey, TIDINGS_VAPID_PRIVATE_KEY: `${good.privateKey}=` }, /push\.vapidPrivateKey/, good.privateKey],
    ['a subject that is not a URL', { TIDINGS_VAPID_PUBLIC_KEY: good.publicKey, TIDINGS_VAPID_PRIVATE_KEY: good.privateKey, TIDINGS_VAPID_SUBJECT: 'https://' }, /push\.subject/, good.privateKey],
  ];
  // The first through `tidings serve` (exit 1, one line, nothing started); the others as serve
  // reads the environment, the same check and message.
  const [first, ...rest] = cases;
  const [name, env, setting, secret] = first!;
  const run = await serve(env);
  t.equal(run.status, 1, `${name}: exit 1`);
  t.match(run.stderr, setting, `${name}: the error names the setting`);
  t.equal(run.stderr.trim().split('\n').length, 1, `${name}: one line, no stack trace`);
  t.notOk(run.stderr.includes(secret.slice(0, 12)) || run.stdout.includes(secret.slice(0, 12)), `${name}: the key is not printed`);
  t.notMatch(run.stdout, /listening/, `${name}: the server did not start`);
  for (const [name, env, setting, secret] of rest) {
    const environment = { TIDINGS_SIGNING_KEY: generateSigningKey(), TIDINGS_VAPID_SUBJECT: 'mailto:ops@example.com', ...env };
    let message = '';
    try {
      resolveConfig(configFromEnv(environment));
    } catch (err) {
      message = (err as Error).message;
    }
    t.match(message, setting, `${name}: refused, naming the setting`);
    t.notOk(message.includes(secret.slice(0, 12)), `${name}: the key is not in the message`);
  }
});
