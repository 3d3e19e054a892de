import t from 'tap';
import { reconnectDelay } from '../../../src/client/backoff.js';

t.test('backoff - doubles per attempt up to the cap, jittered to 50–100 %', async (t) => {
  const low = () => 0;
  const high = () => 0.999_999;
  t.same([0, 1, 2, 3, 4, 10, 100].map((n) => reconnectDelay(n, 250, 10_000, high)), [250, 500, 1000, 2000, 4000, 10_000, 10_000]);
  t.same([0, 1, 2, 10].map((n) => reconnectDelay(n, 250, 10_000, low)), [125, 250, 500, 5000], 'never below half');
  const spread = new Set(Array.from({ length: 50 }, () => reconnectDelay(3, 250, 10_000)));
  t.ok(spread.size > 10, 'clients dropped together do not come back together');
  for (const d of spread) t.ok(d >= 1000 && d <= 2000);
});
