/** Notifications for when the user is away (docs/push.md): follow topics, and register this
 * browser's Web Push subscription. Everything is tied to the token's tokenId on the server. */
import type { OutgoingRequest } from '../protocol/index.js';
import { clientLink, type ClientOptions } from './client-options.js';
import type { Connection, RequestOptions } from './connection.js';
import { asClientError } from './errors.js';
import { GenericWrite, ErrorResponse, orThrow } from './responses.js';

/** What PushSubscription.toJSON() gives in a browser. */
export interface PushSubscriptionJson { endpoint: string; keys: { p256dh: string; auth: string } }

export namespace PushKey {
  export class Success { readonly type = 'Success' as const; readonly is_success = true; constructor(readonly publicKey: string) {} }
  export class Error extends ErrorResponse {}
  export type Response = Success | Error;
}

/** unregisterPush(): `removed` is true when the endpoint was registered (for this tokenId). */
export namespace PushUnregister {
  export class Success { readonly type = 'Success' as const; readonly is_success = true; constructor(readonly removed: boolean) {} }
  export class Error extends ErrorResponse {}
  export type Response = Success | Error;
}

export class NotifyClient {
  readonly connection: Connection;
  private readonly owned: boolean;
  private readonly throwOnErrors: boolean;

  constructor(options: ClientOptions) {
    const link = clientLink(options);
    this.connection = link.connection;
    this.owned = link.owned;
    this.throwOnErrors = link.throwOnErrors;
  }

  /** Items published to the topic while the user is not on it are pushed / sent to the webhook. */
  follow(cacheName: string, topicName: string, options?: RequestOptions): Promise<GenericWrite.Response> {
    return this.write({ t: 'follow', cache: cacheName, topic: topicName }, options);
  }

  unfollow(cacheName: string, topicName: string, options?: RequestOptions): Promise<GenericWrite.Response> {
    return this.write({ t: 'unfollow', cache: cacheName, topic: topicName }, options);
  }

  /** The server's VAPID key: pass it as `applicationServerKey` to pushManager.subscribe(). */
  async vapidPublicKey(options?: RequestOptions): Promise<PushKey.Response> {
    let response: PushKey.Response;
    try {
      response = new PushKey.Success((await this.connection.request({ t: 'pushKey' }, options)).publicKey);
    } catch (err) {
      response = new PushKey.Error(asClientError(err));
    }
    return orThrow(response, this.throwOnErrors);
  }

  /** Registers `subscription.toJSON()` for this user. Registering the same endpoint again
   * replaces its keys. */
  registerPush(subscription: PushSubscriptionJson, options?: RequestOptions): Promise<GenericWrite.Response> {
    return this.write({ t: 'pushRegister', subscription: { endpoint: subscription.endpoint, keys: subscription.keys } }, options);
  }

  /** Resolves to whether a subscription with this endpoint was registered. */
  async unregisterPush(endpoint: string, options?: RequestOptions): Promise<PushUnregister.Response> {
    let response: PushUnregister.Response;
    try {
      response = new PushUnregister.Success((await this.connection.request({ t: 'pushUnregister', endpoint }, options)).removed);
    } catch (err) {
      response = new PushUnregister.Error(asClientError(err));
    }
    return orThrow(response, this.throwOnErrors);
  }

  close(): void {
    if (this.owned) this.connection.close();
  }

  private async write<K extends 'follow' | 'unfollow' | 'pushRegister'>(frame: OutgoingRequest<K>, options?: RequestOptions): Promise<GenericWrite.Response> {
    let response: GenericWrite.Response;
    try {
      await this.connection.request(frame as never, options);
      response = new GenericWrite.Success();
    } catch (err) {
      response = new GenericWrite.Error(asClientError(err));
    }
    return orThrow(response, this.throwOnErrors);
  }
}
