/** One outbound POST (a webhook batch, a Web Push message) to a URL someone other than the operator
 * may have chosen. node:http(s) rather than fetch: its `lookup` hook sees the addresses each new
 * connection is made to, so a DNS name that resolves to this machine or the internal network is
 * refused when connecting (destination-policy.ts publicOnlyLookup), not only an IP literal when
 * registering. Redirects are never followed (node:http does not), and the answer's body is read
 * and discarded up to a bound: the destination is not trusted to answer with a small one. */
import http from 'node:http';
import https from 'node:https';
import { InternalDestinationError, connectLookup, internalHostProblem, type HostLookup } from './destination-policy.js';

export interface PostAnswer { status: number; retryAfter: string | null }

/** What an answer's body is read up to (so its connection can be reused); past it, dropped. */
const MAX_DISCARDED_BYTES = 64 * 1024;

export class OutboundPoster {
  /** Keep-alive pools, one per scheme: a busy endpoint reuses its connections. */
  private readonly agents: { http: http.Agent; https: https.Agent };
  /** How a connection's host name is resolved: checked against the policy unless allowPrivate. */
  private readonly lookup: ReturnType<typeof connectLookup>;

  /** `allowPrivate`: the operator allows internal destinations (its own endpoints, or a knob).
   * `resolve`: host names to addresses (node:dns lookup unless the notify feature is given one). */
  constructor(private readonly allowPrivate: boolean, resolve?: HostLookup) {
    this.agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
    this.lookup = connectLookup(resolve, allowPrivate);
  }

  /** Rejects with InternalDestinationError when the destination is refused, with another error when
   * the request failed (refused connection, reset, `cancel` aborted, or no whole answer, body
   * included, within `timeoutMs`). */
  post(url: string, headers: Record<string, string>, body: Uint8Array | string | null, cancel: AbortSignal, timeoutMs: number): Promise<PostAnswer> {
    const target = new URL(url);
    const literal = this.allowPrivate ? undefined : internalHostProblem(target);
    // An IP literal is connected to without a lookup: checked here (a subscription or endpoint
    // stored by a node with another policy, or before the registration check existed).
    if (literal) return Promise.reject(new InternalDestinationError(literal));
    const secure = target.protocol === 'https:';
    const payload = body === null ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    return new Promise<PostAnswer>((resolve, reject) => {
      const req = (secure ? https : http).request(target, {
        method: 'POST',
        agent: secure ? this.agents.https : this.agents.http,
        headers: { ...headers, 'content-length': String(payload?.byteLength ?? 0) },
        signal: cancel,
        lookup: this.lookup,
      }, (res) => {
        const answer: PostAnswer = { status: res.statusCode ?? 0, retryAfter: headerValue(res.headers['retry-after']) };
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.byteLength;
          if (read > MAX_DISCARDED_BYTES) res.destroy();
        });
        // The status is what matters: the answer counts however its body ends.
        res.on('error', () => undefined);
        res.on('close', () => { clearTimeout(deadline); resolve(answer); });
      });
      // A timer of its own, not AbortSignal.any([cancel, AbortSignal.timeout(ms)]): on Node 20 the
      // timeout signal inside such a composite can be garbage-collected before it fires
      // (nodejs/node#57736), and the request then waits for ever.
      const deadline = setTimeout(() => req.destroy(new Error(`no whole answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('error', (err) => { clearTimeout(deadline); reject(err); });
      req.end(payload);
    });
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

function headerValue(value: string | string[] | undefined): string | null {
  return value === undefined ? null : Array.isArray(value) ? value[0] ?? null : value;
}
