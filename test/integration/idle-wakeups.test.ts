/** An idle node sleeps: its periodic work (metrics' event-loop sampling, sweeps, heartbeats) wakes
 * it a few times a second, not a hundred (docs/configuration.md server.eventLoopMonitorMs). Counted
 * as the main thread's voluntary context switches (each sleep in epoll_wait is one): a count, not a
 * time, so a slow machine does not change the verdict. */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnNode } from '../helpers/child-node.js';

const wakeups = (pid: number) => Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

/** Wake-ups of an idle node's main thread over `ms`, after it settled. */
async function idleWakeups(pid: number, ms: number): Promise<number> {
  await sleep(500);
  const before = wakeups(pid);
  await sleep(ms);
  return wakeups(pid) - before;
}

t.test('idle-wakeups - an idle node wakes a few times a second; 10 ms sampling would be a hundred', async (t) => {
  // Linux, as CI and every deployment: fail with the reason rather than skip.
  if (!t.ok(existsSync('/proc/self/status'), 'counting wake-ups needs Linux /proc')) return;
  const [quiet, sampled] = await Promise.all([
    spawnNode(t, { dev: true, server: { port: 0 } }),
    spawnNode(t, { dev: true, server: { port: 0, eventLoopMonitorMs: 10 } }),
  ]);
  const [q, s] = await Promise.all([idleWakeups(quiet.pid, 3000), idleWakeups(sampled.pid, 3000)]);
  t.ok(q < 90, `the default node woke ${q} times in 3 s (fewer than 90)`);
  t.ok(s > 150, `with eventLoopMonitorMs 10 the node woke ${s} times in 3 s: the count sees it`);
});
