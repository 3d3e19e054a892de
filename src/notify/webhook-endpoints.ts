/** The webhook endpoints of the server (config file + admin route) and their delivery queues. An
 * event goes to every endpoint of its cache whose topic prefix and event list match; per endpoint
 * it waits in the endpoint's bounded queue, in its topic's lane. With shared state (engine redis)
 * the admin route's endpoints are stored for every node (SharedWebhookEndpoints) and this class
 * follows what it announces; config-file endpoints are each node's own. */
import { randomBytes } from 'node:crypto';
import { LimitCause } from '../protocol/index.js';
import { invalidArgument, limitExceeded, notFound } from '../core/errors.js';
import { webhookEndpointProblem, type WebhookEndpointConfig, type WebhookEvent, type WebhooksConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { Maybe } from '../core/maybe.js';
import { DeliveryQueue, type AttemptOutcome, type DeliveryStats, type RetryLater } from './delivery-queue.js';
import { outcomeOfAnswer } from './retry-after.js';
import { InternalDestinationError, internalHostProblem, type HostLookup } from './destination-policy.js';
import { OutboundPoster } from './outbound-post.js';
import type { ItemJson, NotifyEvent } from './events.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, sign } from './webhook-signature.js';
import type { SharedWebhookEndpoints, WebhookEndpointsListener } from './shared-state.js';

/** An endpoint as the admin route shows it: never the secret. `source` says who registered it:
 * `admin` (this route: the caller's own URL, shown as given) or `config` (the operator's file: its
 * URL may carry the operator's credential in the path or query, which a cache's admin must not
 * read, so `url` is replaced by `REDACTED_URL` and only its `origin` is shown). */
export type WebhookEndpointView = Omit<WebhookEndpointConfig, 'secret' | 'url'> & (
  | { source: 'admin'; url: string }
  | { source: 'config'; url: typeof REDACTED_URL; origin: string }
);

export const REDACTED_URL = '[redacted]';

/** `bytes`: the body's UTF-8 length and its separating comma, its share of a batch's body. */
interface Job { event: NotifyEvent; body: string; bytes: number }

/** A batch's body is `{"events":[` + the events joined by commas + `]}`. */
const BATCH_OPEN = '{"events":[';
const BATCH_CLOSE = ']}';
/** The envelope's bytes less the one comma fewer than events (each job counts a comma). */
const BATCH_ENVELOPE_BYTES = BATCH_OPEN.length + BATCH_CLOSE.length - 1;

interface Endpoint {
  config: WebhookEndpointConfig;
  /** From the config file: the operator's URL, never shown whole (WebhookEndpointView). */
  operator: boolean;
  /** From the shared store (engine redis), else from this node's config file or admin route. */
  shared: boolean;
  events: ReadonlySet<WebhookEvent>;
  queue: DeliveryQueue<Job>;
  /** Events refused by the full queue since the last warning about it, and when that was. */
  unlogged: number;
  loggedFullAt: number | undefined;
}

/** A full queue is warned of at most this often per endpoint (with how many events it refused):
 * every refused event is counted in the metrics, and a line each would flood the log for as long
 * as a busy endpoint's receiver is down. */
const FULL_WARNING_INTERVAL_MS = 60_000;

const USER_AGENT = 'Tidings-Webhooks/1';

/** Each item's JSON and its UTF-8 length, by item (WebhookEndpoints.itemBodies says why). */
type ItemBodies = WeakMap<ItemJson, { text: string; bytes: number }>;

/** The event's JSON and its UTF-8 length. */
function eventBody(event: NotifyEvent, itemBodies: ItemBodies): { body: string; bytes: number } {
  const { item, ...rest } = event;
  if (!item) {
    const body = JSON.stringify(event);
    return { body, bytes: Buffer.byteLength(body) };
  }
  let itemBody = itemBodies.get(item);
  if (itemBody === undefined) {
    const text = JSON.stringify(item);
    itemBodies.set(item, (itemBody = { text, bytes: Buffer.byteLength(text) }));
  }
  // Same text as JSON.stringify(event): `item` is the last field.
  const head = `${JSON.stringify(rest).slice(0, -1)},"item":`;
  return { body: `${head}${itemBody.text}}`, bytes: Buffer.byteLength(head) + itemBody.bytes + 1 };
}

export class WebhookEndpoints {
  private readonly byCache = new Map<string, Map<string, Endpoint>>();
  private count = 0;
  /** An item's JSON, serialised once however many events carry it (one `item.undelivered` per away
   * follower): each event's body joins its own fields to that one string instead of copying the
   * value once per follower. Its UTF-8 length is kept beside it: measuring a joined body would
   * flatten it into a copy. */
  private readonly itemBodies: ItemBodies = new WeakMap();
  /** Config-file endpoints are the operator's: any destination. */
  private readonly operatorPoster: OutboundPoster;
  /** Admin-route endpoints (a cache's admin chose the URL): no internal destination, by IP literal
   * or by what a name resolves to when connecting, unless webhooks.allowPrivateUrls. */
  private readonly adminPoster: OutboundPoster;

  constructor(private readonly config: WebhooksConfig, private readonly clock: { now(): number }, private readonly log: Logger, private readonly shared?: SharedWebhookEndpoints, lookup?: HostLookup) {
    this.operatorPoster = new OutboundPoster(true, lookup);
    this.adminPoster = new OutboundPoster(config.allowPrivateUrls, lookup);
    for (const endpoint of config.endpoints) this.install(endpoint, false, true);
    shared?.observe(this.follower());
  }

  /** Whether any endpoint of `cache` wants `type` events for `topic` (publish hooks ask first, so
   * a publish nobody listens to costs one map lookup). */
  wants(cache: string, topic: string, type: WebhookEvent): boolean {
    const endpoints = this.byCache.get(cache);
    if (!endpoints) return false;
    for (const e of endpoints.values()) if (e.events.has(type) && topic.startsWith(e.config.topicPrefix)) return true;
    return false;
  }

  /** Queues the event for every matching endpoint; never waits. */
  emit(event: NotifyEvent): void {
    const endpoints = this.byCache.get(event.cache);
    if (!endpoints) return;
    let job: Job | undefined;
    for (const e of endpoints.values()) {
      if (!e.events.has(event.type) || !event.topic.startsWith(e.config.topicPrefix)) continue;
      if (!job) {
        const { body, bytes } = eventBody(event, this.itemBodies);
        job = { event, body, bytes: bytes + 1 };
      }
      if (!e.queue.enqueue(event.topic, job)) this.queueFull(e);
    }
  }

  private queueFull(e: Endpoint): void {
    e.unlogged++;
    const now = this.clock.now();
    if (e.loggedFullAt !== undefined && now - e.loggedFullAt < FULL_WARNING_INTERVAL_MS) return;
    this.log.warn({ webhook: e.config.name, cache: e.config.cache, deadLettered: e.unlogged }, 'webhook queue full: events dead-lettered (warned at most once a minute per endpoint)');
    e.unlogged = 0;
    e.loggedFullAt = now;
  }

  /** Adds or replaces an endpoint (a replaced endpoint's queued events are dropped). Answers the
   * endpoint's secret (generated when none was given): the one time it is shown. Shared: once the
   * store has it (then every node sends to it). */
  put(input: Omit<WebhookEndpointConfig, 'secret'> & { secret?: string }): Maybe<{ secret: string }> {
    const config = { ...input, secret: input.secret ?? randomBytes(24).toString('base64url') } as WebhookEndpointConfig;
    const problem = webhookEndpointProblem(config);
    if (problem) throw invalidArgument(`webhook: ${problem}`);
    // Only the admin route comes here: a cache's admin must not make the server POST inside its network.
    const internal = this.config.allowPrivateUrls ? undefined : internalHostProblem(new URL(config.url));
    if (internal) throw invalidArgument(`webhook: url must be a public address: ${internal} (webhooks.allowPrivateUrls)`);
    if (this.shared) {
      // Config-file endpoints are on every node: the shared ones get what is left of the bound.
      const maxShared = Math.max(0, this.config.maxEndpoints - this.config.endpoints.length);
      return this.shared.put({ ...config }, maxShared).then(() => ({ secret: config.secret }));
    }
    this.install(config, false);
    return { secret: config.secret };
  }

  /** `operator`: from the config file (sent to whatever it names). */
  private install(config: WebhookEndpointConfig, shared: boolean, operator = false): void {
    let endpoints = this.byCache.get(config.cache);
    const existing = endpoints?.get(config.name);
    // A shared endpoint is bounded where it is stored (the store's script, for the deployment):
    // refusing one here would leave this node without it for good (engine/redis/redis-mirror.ts).
    if (!existing && !shared && this.count >= this.config.maxEndpoints) {
      throw limitExceeded(LimitCause.WEBHOOKS, `at most ${this.config.maxEndpoints} webhook endpoints`);
    }
    existing?.queue.close();
    if (!existing) this.count++;
    if (!endpoints) this.byCache.set(config.cache, (endpoints = new Map()));
    endpoints.set(config.name, {
      config, operator, shared, events: new Set(config.events), queue: this.queueFor(config, operator ? this.operatorPoster : this.adminPoster),
      unlogged: 0, loggedFullAt: undefined,
    });
  }

  /** Applies what the shared store announces. */
  private follower(): WebhookEndpointsListener {
    const put = (config: WebhookEndpointConfig) => {
      const existing = this.byCache.get(config.cache)?.get(config.name);
      // Unchanged (a reload brings every endpoint again): its queue is kept.
      if (existing?.shared && JSON.stringify(existing.config) === JSON.stringify(config)) return;
      try {
        this.install(config, true);
      } catch (err) {
        this.log.warn({ err: (err as Error).message, webhook: config.name, cache: config.cache }, 'shared webhook endpoint not installed');
      }
    };
    return {
      put,
      remove: (cache, name) => { this.uninstall(cache, name); },
      replace: (endpoints) => {
        const keep = new Set(endpoints.map((e) => JSON.stringify([e.cache, e.name])));
        for (const [cache, byName] of [...this.byCache]) {
          for (const [name, e] of [...byName]) if (e.shared && !keep.has(JSON.stringify([cache, name]))) this.uninstall(cache, name);
        }
        for (const e of endpoints) put(e);
      },
    };
  }

  /** Batches stay within maxBatchBytes of body, envelope included (a receiver's 413 is final). */
  private queueFor(config: WebhookEndpointConfig, poster: OutboundPoster): DeliveryQueue<Job> {
    const limits = { ...this.config, maxBatchBytes: this.config.maxBatchBytes - BATCH_ENVELOPE_BYTES };
    return new DeliveryQueue(limits, (jobs, _attempt, closed) => this.send(config, poster, jobs, closed), { jobBytes: (job) => job.bytes });
  }

  /** Shared: out of the store (then every node drops it); a config-file endpoint is this node's. */
  remove(cache: string, name: string): Maybe<void> {
    if (!this.shared) {
      if (!this.uninstall(cache, name)) throw notFound(`no webhook "${name}" in cache "${cache}"`);
      return;
    }
    return this.shared.remove(cache, name).then((removed) => {
      if (!this.uninstall(cache, name) && !removed) throw notFound(`no webhook "${name}" in cache "${cache}"`);
    });
  }

  private uninstall(cache: string, name: string): boolean {
    const endpoints = this.byCache.get(cache);
    const endpoint = endpoints?.get(name);
    if (!endpoint) return false;
    endpoint.queue.close();
    endpoints!.delete(name);
    if (endpoints!.size === 0) this.byCache.delete(cache);
    this.count--;
    return true;
  }

  list(cache: string): WebhookEndpointView[] {
    return [...(this.byCache.get(cache)?.values() ?? [])].map(({ operator, config: { secret: _secret, url, ...rest } }): WebhookEndpointView => (
      operator ? { ...rest, source: 'config', url: REDACTED_URL, origin: new URL(url).origin } : { ...rest, source: 'admin', url }
    ));
  }

  stats(): Array<{ endpoint: string; stats: DeliveryStats }> {
    const out: Array<{ endpoint: string; stats: DeliveryStats }> = [];
    for (const endpoints of this.byCache.values()) for (const e of endpoints.values()) out.push({ endpoint: `${e.config.cache}/${e.config.name}`, stats: e.queue.snapshot() });
    return out;
  }

  close(): void {
    for (const endpoints of this.byCache.values()) for (const e of endpoints.values()) e.queue.close();
    this.byCache.clear();
    this.operatorPoster.close();
    this.adminPoster.close();
  }

  /** One POST of `{ "events": [...] }`, oldest first. The timestamp is taken per attempt, so a retry
   * is not refused as a replay. */
  private async send(config: WebhookEndpointConfig, poster: OutboundPoster, jobs: readonly Job[], closed: AbortSignal): Promise<AttemptOutcome | RetryLater> {
    const timestamp = this.clock.now();
    // Each event was serialised once when it happened; a batch only joins them.
    const body = `${BATCH_OPEN}${jobs.map((j) => j.body).join(',')}${BATCH_CLOSE}`;
    try {
      const res = await poster.post(config.url, {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        [TIMESTAMP_HEADER]: String(timestamp),
        [SIGNATURE_HEADER]: sign(config.secret, timestamp, body),
      }, body, closed, this.config.timeoutMs);
      return outcomeOfAnswer(res.status, res.retryAfter, this.clock.now());
    } catch (err) {
      // An internal destination stays refused: dead-lettered as rejected, not retried. The URL
      // may carry credentials in its query, so it is not logged; the message names only the host.
      if (err instanceof InternalDestinationError) {
        this.log.warn({ webhook: config.name, cache: config.cache, reason: err.message }, 'webhook destination refused: internal address');
        return 'reject';
      }
      // Timeout, refused connection, reset: worth another attempt.
      return 'retry';
    }
  }
}
