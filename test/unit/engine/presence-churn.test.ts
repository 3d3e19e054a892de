/** Presence under random join/leave churn with many tokenIds: listed plus untracked connections
 * match the open ones, the member cap holds, no user is both listed and untracked, joins and
 * leaves balance, and nothing is left once everyone left. */
import t from 'tap';
import fc from 'fast-check';
import { ManualClock } from '../../../src/core/clock.js';
import { MemoryPresence } from '../../../src/presence/memory-presence.js';

t.test('presence churn: counts match open connections, maps empty when all leave, events balanced', async (t) => {
  fc.assert(fc.property(
    fc.array(fc.record({ add: fc.boolean(), tok: fc.integer({ min: 0, max: 6 }), topic: fc.integer({ min: 0, max: 2 }), pick: fc.nat(), adv: fc.integer({ min: 0, max: 30 }) }), { maxLength: 300 }),
    fc.integer({ min: 1, max: 4 }), fc.constantFrom(0, 10),
    (ops, max, grace) => {
      const clock = new ManualClock();
      const p = new MemoryPresence({ leaveGraceMs: grace, maxMembersPerTopic: max, maxPendingLeaves: 100_000, nodeTimeoutMs: 15000 }, clock);
      const topics = (p as unknown as { topics: Map<string, { members: Map<string, unknown>; untracked: Map<string, number> }> }).topics;
      const joined = new Map<string, number>();
      p.observe((c) => { const k = `${c.topic}/${c.tokenId}`; joined.set(k, (joined.get(k) ?? 0) + (c.kind === 'join' ? 1 : -1)); if ((joined.get(k)!) < 0 || joined.get(k)! > 1) throw new Error(`unbalanced ${c.kind} ${k}`); });
      const open: Array<{ conn: string; tok: string; topic: string }> = [];
      let n = 0;
      for (const o of ops) {
        if (o.add || open.length === 0) {
          const c = { conn: `c${n++}`, tok: `u${o.tok}`, topic: `t${o.topic}` };
          open.push(c);
          p.add('x', c.topic, { connectionId: c.conn, tokenId: c.tok });
        } else {
          const [c] = open.splice(o.pick % open.length, 1);
          p.remove('x', c!.topic, { connectionId: c!.conn, tokenId: c!.tok });
        }
        clock.advance(o.adv);
        for (const topic of ['t0', 't1', 't2']) {
          const r = p.members('x', topic);
          const listed = r.members.reduce((s, m) => s + m.connections, 0);
          const expected = open.filter((c) => c.topic === topic).length;
          if (listed + r.untracked !== expected) throw new Error(`${topic}: ${listed} listed + ${r.untracked} untracked != ${expected} open`);
          if (r.members.length > max) throw new Error('over maxMembersPerTopic');
        }
        for (const [key, state] of topics) {
          for (const tokenId of state.untracked.keys()) if (state.members.has(tokenId)) throw new Error(`${key}: ${tokenId} both listed and untracked`);
        }
      }
      for (const c of open.splice(0)) p.remove('x', c.topic, { connectionId: c.conn, tokenId: c.tok });
      clock.advance(100);
      if (topics.size !== 0) throw new Error('topics map not empty after everyone left');
      for (const [k, v] of joined) if (v !== 0) throw new Error(`${k} joined without leaving`);
    }), { numRuns: 300 });
  t.pass();
});
