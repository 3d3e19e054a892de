/** Joining a chat without a gap or a duplicate: a publisher pubAppends continuously (many requests
 * in flight) while clients join by fetching the history list with its origins and subscribing
 * after the last element's (page, seq). Each must end up with one gapless, duplicate-free run. */
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { PermissionScopes } from '../../src/index.js';

const N = 3000;
const IN_FLIGHT = 32;
const CAP = 50;
const where = { cache: 'chat', topic: 'room', list: 'room-history' };

interface Joined { name: string; history: Frame[]; live: Frame[]; discs: Frame[]; subscribedAt: Frame; lastHeld: number }

testEachEngine('fetch + subscribe-after joins a busy chat with no gap and no duplicate', async (t, engine) => {
  const server = await startServer(t, { engine });
  const publisherToken = await tokenFor(server, PermissionScopes.combine(
    PermissionScopes.topicPublishOnly('chat', 'room'), PermissionScopes.cacheKeyWriteOnly('chat', 'room-history'),
  ), { tokenId: 'poster' });
  const readerToken = await tokenFor(server, PermissionScopes.combine(
    PermissionScopes.topicSubscribeOnly('chat', 'room'), PermissionScopes.cacheKeyReadOnly('chat', 'room-history'),
  ));
  const publisher = await RawClient.open(server, publisherToken);
  t.teardown(() => publisher.close());

  let acked = 0;
  const progress: Array<{ at: number; resolve: () => void }> = [];
  const untilAcked = (at: number) => new Promise<void>((resolve) => {
    if (acked >= at) resolve(); else progress.push({ at, resolve });
  });

  const join = async (name: string, waitAfterFetch: number, fetchedHook?: () => void): Promise<Joined> => {
    const c = await RawClient.open(server, readerToken);
    t.teardown(() => c.close());
    const fetched = await c.ok({ t: 'listFetch', cache: where.cache, list: where.list, withMeta: true });
    const history: Frame[] = fetched['hit'] ? fetched['items'] : [];
    const last = history.at(-1);
    fetchedHook?.();
    // Every joiner lets the publisher go on before it subscribes (at least one more item), so the
    // subscribe has to replay exactly what was published since the fetch.
    if (waitAfterFetch > 0) await untilAcked(Math.min(N, acked + waitAfterFetch));
    else await new Promise((resolve) => setImmediate(resolve));
    const after = last ? { page: last['page'], seq: last['seq'] } : { page: 0, seq: 0 };
    const subscribedAt = await c.ok({ t: 'sub', cache: where.cache, topic: where.topic, after });
    const live: Frame[] = [];
    const discs: Frame[] = [];
    while ((live.at(-1)?.['seq'] ?? last?.['seq']) !== N) {
      const f = await c.next((f) => f['t'] === 'item' || f['t'] === 'disc', 10_000);
      (f['t'] === 'item' ? live : discs).push(f);
    }
    return { name, history, live, discs, subscribedAt, lastHeld: last?.['seq'] ?? 0 };
  };

  // The first joiner finds no history (a Miss), then subscribes while the first items go out.
  let firstFetched!: () => void;
  const fetched = new Promise<void>((resolve) => { firstFetched = resolve; });
  const joiners: Array<Promise<Joined>> = [join('before the first item', 0, firstFetched)];
  await fetched;
  const joinAt = [150, 600, 1000, 1400, 1900, 2300, 2700, 2850];
  let page = 0;
  // The publisher holds off while a joiner fetches, then goes on while the joiner subscribes.
  let barrier: Promise<void> | undefined;

  // The publisher: N pubAppends, IN_FLIGHT at a time on one connection.
  const inFlight = new Set<Promise<void>>();
  for (let i = 1; i <= N; i++) {
    if (barrier) { await barrier; barrier = undefined; }
    const p: Promise<void> = publisher.request({ t: 'pubAppend', ...where, value: `m${i}`, truncateFrontToSize: CAP }, 20_000).then((reply) => {
      if (reply['t'] !== 'ok' || reply['r']['seq'] !== i) throw new Error(`pubAppend ${i}: ${JSON.stringify(reply)}`);
      page = reply['r']['page'];
      acked++;
      for (const w of progress.filter((w) => w.at <= acked)) { progress.splice(progress.indexOf(w), 1); w.resolve(); }
      if (joinAt.includes(acked)) {
        let release!: () => void;
        barrier = new Promise<void>((resolve) => { release = resolve; });
        // Half the joiners let 100 items go by before subscribing, half one (a tight race).
        joiners.push(join(`joined at ${acked}`, joiners.length % 2 === 0 ? 100 : 1, release));
      }
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => undefined);
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const results = await Promise.all(joiners);
  t.equal(results.length, 1 + joinAt.length, 'every joiner ran');

  let raced = 0;
  for (const r of results) {
    const seqs = [...r.history.map((h) => h['seq'] as number), ...r.live.map((i) => i['seq'] as number)];
    const problems: string[] = [];
    for (let k = 1; k < seqs.length; k++) {
      if (seqs[k] !== seqs[k - 1]! + 1) problems.push(`after ${seqs[k - 1]} came ${seqs[k]}`);
    }
    t.same(problems, [], `${r.name}: gapless and duplicate-free (${r.history.length} from history, ${r.live.length} live)`);
    t.equal(seqs.at(-1), N, `${r.name}: ends with the last item`);
    t.ok([...r.history, ...r.live].every((x) => x['value'] === `m${x['seq']}` && x['page'] === page && x['tokenId'] === 'poster'),
      `${r.name}: every element and item is the one published at its (page, seq), with the publisher's tokenId`);
    if (r.name === 'before the first item') t.equal(r.history.length, 0, 'the first joiner found no history');
    if (r.lastHeld > 0) {
      t.equal(r.history.length, Math.min(CAP, r.lastHeld), `${r.name}: history holds the last ${CAP} (capped)`);
      t.same(r.discs, [], `${r.name}: no discontinuity`);
    } else {
      t.equal(seqs[0], 1, `${r.name}: with no history it starts from item 1`);
    }
    if ((r.subscribedAt['seq'] as number) > r.lastHeld) raced++;
  }
  // Whether an item lands between a joiner's fetch and its subscribe is up to timing; the test only
  // proves the join when that window was hit, so most joiners must have raced (each is checked above
  // for gaps and duplicates either way). On a loaded machine one may not.
  t.ok(raced >= joinAt.length - 2, `${raced} of ${joinAt.length} joiners had items published between their fetch and their subscribe`);

  const final = await publisher.request({ t: 'listFetch', cache: 'chat', list: 'room-history' });
  t.match(final, { t: 'err', e: { code: 'PERMISSION_ERROR' } }, 'the writeonly publisher cannot read the history');
});
