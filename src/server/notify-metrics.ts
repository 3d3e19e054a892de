/** /metrics series of the notification feature, computed on scrape from the queues' counters. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { NotifyService } from '../notify/notify-service.js';
import type { DeliveryStats } from '../notify/delivery-queue.js';

export function registerNotifyMetrics(registry: Registry, service: NotifyService): void {
  const webhookRows = () => service.webhooks.stats();
  const counter = (name: string, help: string, labels: string[], rows: () => Array<[Record<string, string>, number]>) =>
    new Counter({ name, help, labelNames: labels, registers: [registry], collect() { this.reset(); for (const [l, v] of rows()) this.inc(l, v); } });
  const gauge = (name: string, help: string, labels: string[], rows: () => Array<[Record<string, string>, number]>) =>
    new Gauge({ name, help, labelNames: labels, registers: [registry], collect() { this.reset(); for (const [l, v] of rows()) this.set(l, v); } });
  const deadLetters = (s: DeliveryStats, base: Record<string, string>, only?: readonly string[]): Array<[Record<string, string>, number]> =>
    Object.entries(s.deadLetters).filter(([reason]) => only?.includes(reason) ?? true).map(([reason, n]) => [{ ...base, reason }, n]);
  // revoked and unregistered are Web Push's (tokenIds, subscriptions): no webhook event is either.
  const webhookReasons = ['queue_full', 'attempts_exhausted', 'rejected'];

  counter('tidings_webhook_delivered_total', 'Webhook events the endpoint accepted (2xx)', ['endpoint'], () => webhookRows().map((r) => [{ endpoint: r.endpoint }, r.stats.delivered]));
  counter('tidings_webhook_failed_attempts_total', 'Webhook attempts that failed (5xx, timeout, network) and were retried or gave up', ['endpoint'], () => webhookRows().map((r) => [{ endpoint: r.endpoint }, r.stats.failedAttempts]));
  counter('tidings_webhook_dead_letters_total', 'Webhook events given up: queue_full, attempts_exhausted, rejected (4xx)', ['endpoint', 'reason'], () => webhookRows().flatMap((r) => deadLetters(r.stats, { endpoint: r.endpoint }, webhookReasons)));
  gauge('tidings_webhook_queued', 'Webhook events waiting or in flight', ['endpoint'], () => webhookRows().map((r) => [{ endpoint: r.endpoint }, r.stats.queued]));

  counter('tidings_notify_presence_failures_total', 'Follower notifications (item.undelivered, Web Push) dropped because the presence lookup failed (engine redis: Redis unreachable or erroring)', [], () => [[{}, service.notifier.presenceFailures]]);

  const push = () => service.push?.stats();
  counter('tidings_push_sent_total', 'Web Push messages the push service accepted', [], () => { const s = push(); return s ? [[{}, s.delivered]] : []; });
  counter('tidings_push_gone_total', 'Push subscriptions removed because the push service answered 404/410', [], () => { const s = push(); return s ? [[{}, s.gone]] : []; });
  counter('tidings_push_collapsed_total', 'Items folded into a later push by burst collapsing', [], () => { const s = push(); return s ? [[{}, s.collapsed]] : []; });
  counter('tidings_push_dead_letters_total', 'Web Push messages given up: queue_full, attempts_exhausted, rejected (4xx), revoked (the tokenId was revoked while they were queued), unregistered (the subscription was unregistered or moved to another tokenId while they were queued)', ['reason'], () => { const s = push(); return s ? deadLetters(s, {}) : []; });
}
