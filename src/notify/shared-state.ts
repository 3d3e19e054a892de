/** The notification state an engine shares between nodes (engine redis: engine/redis/shared-*.ts).
 * Without it, a server keeps its own in memory. */
import type { WebhookEndpointConfig } from '../core/config.js';
import type { Followers } from './followers.js';
import type { PushSubscriptions } from './push-subscriptions.js';

/** What a node does with the shared webhook endpoints it hears of. */
export interface WebhookEndpointsListener {
  /** Every shared endpoint (at start, and after a reload): the node's earlier ones are replaced. */
  replace(endpoints: readonly WebhookEndpointConfig[]): void;
  put(endpoint: WebhookEndpointConfig): void;
  remove(cache: string, name: string): void;
}

/** Webhook endpoints added through the admin route, for every node (config-file endpoints are in
 * each node's own config). Writes answer once stored. */
export interface SharedWebhookEndpoints {
  /** Adds or replaces; throws LIMIT_EXCEEDED_ERROR past `maxShared` endpoints. */
  put(endpoint: WebhookEndpointConfig, maxShared: number): Promise<void>;
  /** False when no shared endpoint had the name. */
  remove(cache: string, name: string): Promise<boolean>;
  /** Tells `listener` of every endpoint now and of each change from now on. One listener. */
  observe(listener: WebhookEndpointsListener): void;
}

export interface SharedNotifyState {
  readonly followers: Followers;
  readonly subscriptions: PushSubscriptions;
  readonly webhooks: SharedWebhookEndpoints;
}
