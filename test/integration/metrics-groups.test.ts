/** GET /metrics stays bounded however many moderator groups there are: per-group series only for
 * the server.metricsMaxGroups busiest groups (buffered + in-flight, ties by name), totals without
 * the group label over every group, counter series that never go down when a group leaves the top
 * and comes back, and one read of the groups per scrape. Engine memory: with redis a node's group
 * figures are its own view (offered counted at first hand-out, buffered as last seen), so exact
 * totals are not the point there; the selection reads stats() the same way for both engines. */
import t, { type Test } from 'tap';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes, type TidingsServer } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';

const scrape = async (url: string) => (await fetch(`${url}/metrics`)).text();
const metric = (text: string, sample: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
};
/** The groups that have per-group series in a scrape. */
const groupsIn = (text: string) => new Set([...text.matchAll(/^tidings_moderation_group_\w+\{cache="chat",group="(\w+)"/gm)].map((m) => m[1]!));
const groupLines = (text: string) => text.split('\n').filter((l) => l.startsWith('tidings_moderation_group_'));
/** A scrape once the totals show `offered` items offered and `buffered` + `inFlight` held (engine
 * redis hands items out asynchronously). */
async function scrapeSettled(url: string, want: { offered: number; held: number }): Promise<string> {
  let text = '';
  await waitFor(`${want.offered} offered, ${want.held} held`, async () => {
    text = await scrape(url);
    return metric(text, 'tidings_moderation_items_total{outcome="offered"}') === want.offered
      && metric(text, 'tidings_moderation_buffered_items')! + metric(text, 'tidings_moderation_in_flight_items')! === want.held;
  });
  return text;
}

const GROUPS = 40;
/** Group i's input topics end with `-g<i>-input`: distinct suffixes, all under the moderator's `-input`. */
const suffix = (i: number) => `-g${i}-input`;

/** A moderator in groups g0..g(n-1), each on its own suffix, holding one item at a time and
 * answering none, and a publisher to those topics. */
async function setup(t: Test, server: TidingsServer) {
  const moderator = await RawClient.open(server, await tokenFor(server, PermissionScopes.moderator('chat'), { tokenId: 'mod' }));
  const publisher = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'), { tokenId: 'pub' }));
  const join = async (from: number, to: number) => {
    for (let i = from; i < to; i++) await moderator.ok({ t: 'gsub', cache: 'chat', group: `g${i}`, pattern: { nameSuffix: suffix(i) }, maxInFlight: 1 });
  };
  const publish = async (group: number, items: number) => {
    for (let k = 0; k < items; k++) await publisher.ok({ t: 'pub', cache: 'chat', topic: `room${suffix(group)}`, value: `v${k}` });
  };
  t.teardown(() => { moderator.close(); publisher.close(); });
  return { moderator, join, publish };
}

t.test('per-group series for the busiest metricsMaxGroups only, totals over all', async (t) => {
  const server = await startServer(t, { engine: 'memory', config: { server: { metricsAccess: 'open', metricsMaxGroups: 3 } } });
  const { join, publish } = await setup(t, server);
  await join(0, 10);
  // Loads (buffered + in flight): g8 9, g2 5, g3 5 (tie, by name), g5 4; the rest 1.
  const loads = [1, 1, 5, 5, 1, 4, 1, 1, 9, 1];
  for (const [i, n] of loads.entries()) await publish(i, n);
  const sum = loads.reduce((a, b) => a + b, 0);

  const text = await scrapeSettled(server.httpUrl, { offered: sum, held: sum });
  t.same([...groupsIn(text)].sort(), ['g2', 'g3', 'g8'], 'the three busiest groups, the tie broken by name');
  t.equal(metric(text, 'tidings_moderation_group_buffered_items{cache="chat",group="g8"}'), 8);
  t.equal(metric(text, 'tidings_moderation_group_in_flight_items{cache="chat",group="g8"}'), 1);
  t.equal(metric(text, 'tidings_moderation_group_items_total{cache="chat",group="g8",outcome="offered"}'), 9);
  t.equal(metric(text, 'tidings_moderation_groups'), 10);
  t.equal(metric(text, 'tidings_moderation_in_flight_items'), 10, 'every group holds one item in flight');
  t.equal(metric(text, 'tidings_moderation_buffered_items'), sum - 10, 'the rest buffered, over all ten groups');
  t.equal(metric(text, 'tidings_moderation_members'), 10);
  t.equal(metric(text, 'tidings_moderation_items_total{outcome="offered"}'), sum, 'every item offered, over all ten groups');
  t.equal(metric(text, 'tidings_moderation_items_total{outcome="delivered"}'), 10);
  t.equal(groupLines(text).length, 3 * 12, '12 samples for each of the three groups, none for the others');
});

t.test('the scrape does not grow with the number of groups', async (t) => {
  const server = await startServer(t, { engine: 'memory', config: { server: { metricsAccess: 'open', metricsMaxGroups: 3 } } });
  const { join, publish } = await setup(t, server);
  await join(0, 10);
  for (let i = 0; i < 10; i++) await publish(i, 2);
  const before = groupLines(await scrapeSettled(server.httpUrl, { offered: 20, held: 20 }));
  await join(10, GROUPS);
  for (let i = 10; i < GROUPS; i++) await publish(i, 1);
  const after = await scrapeSettled(server.httpUrl, { offered: GROUPS + 10, held: GROUPS + 10 });
  t.equal(metric(after, 'tidings_moderation_groups'), GROUPS);
  t.equal(metric(after, 'tidings_moderation_items_total{outcome="offered"}'), 20 + GROUPS - 10);
  t.equal(groupLines(after).length, before.length, 'as many per-group samples with 40 groups as with 10');
  t.same(groupLines(after), before, 'the same series and values: the new, idler groups stay out');
});

t.test('a group back in the top shows its own cumulative counts: its counters never go down', async (t) => {
  const server = await startServer(t, { engine: 'memory', config: { server: { metricsAccess: 'open', metricsMaxGroups: 1 } } });
  const { join, publish } = await setup(t, server);
  await join(0, 2);
  await publish(0, 3);
  let text = await scrapeSettled(server.httpUrl, { offered: 3, held: 3 });
  t.same([...groupsIn(text)], ['g0']);
  const offered = 'tidings_moderation_group_items_total{cache="chat",group="g0",outcome="offered"}';
  t.equal(metric(text, offered), 3);

  // g1 gets busier: g0 drops out of the top one.
  await publish(1, 5);
  text = await scrapeSettled(server.httpUrl, { offered: 8, held: 8 });
  t.same([...groupsIn(text)], ['g1']);
  t.equal(metric(text, offered), undefined, 'g0 has no series while out of the top');

  // g0, busier again than g1 (9 against 5), comes back with its whole count, not what came since.
  await publish(0, 6);
  text = await scrapeSettled(server.httpUrl, { offered: 14, held: 14 });
  t.same([...groupsIn(text)], ['g0']);
  t.equal(metric(text, offered), 9);
  t.equal(metric(text, 'tidings_moderation_items_total{outcome="offered"}'), 14, 'the total counts both groups throughout');
});

t.test('one read of the groups serves a whole scrape', async (t) => {
  const server = await startServer(t, { engine: 'memory', config: { server: { metricsAccess: 'open' } } });
  const { join } = await setup(t, server);
  await join(0, 2);
  const groups = server.engine.groups;
  const read = groups.stats.bind(groups);
  let reads = 0;
  groups.stats = () => { reads++; return read(); };
  t.teardown(() => { groups.stats = read; });
  const text = await scrape(server.httpUrl);
  t.equal(metric(text, 'tidings_moderation_groups'), 2);
  t.equal(reads, 1, 'eight group series, one stats() call');
  await scrape(server.httpUrl);
  t.equal(reads, 2, 'the next scrape reads afresh');
});
