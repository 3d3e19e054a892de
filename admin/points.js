// One point of each chart from a stats sample and the one before it (its own module so the browser
// test can feed it samples).
import { percent } from '/admin/format.js';

const limitTotal = (x) => Object.values(x.limitEvents).reduce((a, b) => a + b, 0);

/** The values of each chart's lines at `stats`. Per-second rates of counters need `previous` from
 * the same server run: after a restart (or a reconnect to another node) the counters start again
 * from 0, and the difference would be a negative rate. */
export function chartRows(stats, previous) {
  const comparable = previous !== undefined && previous.startedAt === stats.startedAt;
  const seconds = comparable ? Math.max(0.001, (stats.at - previous.at) / 1000) : 1;
  return [
    [stats.connections.open, stats.subscriptions],
    [stats.rates?.publishes ?? null, stats.rates?.deliveries ?? null],
    [percent(stats.window.bytes, stats.window.limit), stats.store.limit > 0 ? percent(stats.store.bytes, stats.store.limit) : null],
    comparable
      ? [(limitTotal(stats) - limitTotal(previous)) / seconds, (stats.slowConsumers.detaches - previous.slowConsumers.detaches) / seconds, (stats.connections.cutOff - previous.connections.cutOff) / seconds]
      : [null, null, null],
  ];
}
