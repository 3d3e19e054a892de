/** The moderation totals in GET /metrics never go down: a group the engine forgets (idle) or that
 * comes back under the same name with fresh counts keeps its share of the totals; and the busiest
 * groups are chosen by buffered + in-flight items, ties by cache then name. */
import t from 'tap';
import { GroupTotalsTracker, busiestGroups } from '../../../src/server/group-metrics.js';
import type { GroupStats } from '../../../src/moderation/group-registry.js';

const group = (name: string, offered: number, buffered = 0, inFlight = 0, cache = 'chat'): GroupStats => ({
  cache, group: name, pattern: { nameSuffix: '-input' }, members: 1, memberLoad: [], buffered, inFlight,
  counters: { offered, delivered: 0, redelivered: 0, accepted: 0, rejected: 0, nacked: 0, timedOut: 0, deadLettered: 0, refused: 0 },
});

t.test('totals keep the counts of groups that are gone or restarted', async (t) => {
  const tracker = new GroupTotalsTracker();
  t.equal(tracker.observe([group('a', 5), group('b', 3)]).counters.offered, 8);
  t.equal(tracker.observe([group('b', 4)]).counters.offered, 9, 'a forgotten: its 5 stay in the total');
  t.equal(tracker.observe([group('b', 4), group('a', 1)]).counters.offered, 10, 'a again, counting from 0');
  t.equal(tracker.observe([group('b', 1), group('a', 2)]).counters.offered, 12, 'b restarted between scrapes: its 4 stay');
  t.equal(tracker.observe([]).counters.offered, 12, 'no groups left: the total holds');
  const gauges = tracker.observe([group('c', 0, 2, 1)]);
  t.same({ buffered: gauges.buffered, inFlight: gauges.inFlight, members: gauges.members }, { buffered: 2, inFlight: 1, members: 1 }, 'gauges are the live groups only');
});

t.test('busiest groups: by load, ties by cache then name, bounded', async (t) => {
  const stats = [group('d', 0, 1), group('b', 0, 2, 1), group('c', 0, 3), group('a', 0, 0, 3), group('z', 0, 3, 0, 'alpha')];
  t.same(busiestGroups(stats, 3).map((g) => `${g.cache}/${g.group}`), ['alpha/z', 'chat/a', 'chat/b']);
  t.same(busiestGroups(stats, 0), []);
  t.equal(busiestGroups(stats, 100).length, 5);
});
