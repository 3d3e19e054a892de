/** The notification state an engine shares between nodes (engine redis: engine/redis/shared-*.ts).
 * Without it, a server keeps its own in memory. */
import type { Followers } from './followers.js';
import type { PushSubscriptions } from './push-subscriptions.js';

export interface SharedNotifyState {
  readonly followers: Followers;
  readonly subscriptions: PushSubscriptions;
}
