/** The JSON events sent to the app's backend (docs/webhooks.md). Built once per event, shared by
 * every endpoint it goes to. */
import type { PublishedItem } from '../core/publish-hook.js';
import type { WebhookEvent } from '../core/config.js';

export interface ItemJson { page: number; seq: number; ts: number; tokenId?: string; value?: string; valueBase64?: string }

export interface NotifyEvent {
  /** Unique per event (receivers de-duplicate retried deliveries by it). */
  id: string;
  type: WebhookEvent;
  cache: string;
  topic: string;
  /** When it happened, Unix ms. */
  ts: number;
  /** joined / left: the user; undelivered: the follower who was not present. */
  tokenId?: string;
  item?: ItemJson;
}

/** The item as JSON. Text stays text; bytes go as base64 (copied now: the value may be a view
 * into the transport's receive buffer). */
export function itemJson(item: PublishedItem): ItemJson {
  const out: ItemJson = { page: item.page, seq: item.seq, ts: item.ts };
  if (item.tokenId !== undefined) out.tokenId = item.tokenId;
  if (typeof item.value === 'string') out.value = item.value;
  else out.valueBase64 = Buffer.from(item.value).toString('base64');
  return out;
}
