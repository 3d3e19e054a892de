/** Mints disposable tokens from an API key over HTTP (for backends), like Momento's AuthClient. */
import { ErrorCode, type ExpiresIn, type Scope, type WireError } from '../protocol/index.js';
import { TidingsClientError } from './errors.js';
import { GenerateDisposableToken } from './responses.js';

export interface AuthClientOptions {
  /** The broker's HTTP base URL, e.g. http://127.0.0.1:8080 (a ws:// URL is accepted too). */
  url: string;
  apiKey: string;
  /** fetch implementation (global fetch by default). */
  fetch?: typeof fetch;
}

export class AuthClient {
  private readonly base: string;
  constructor(private readonly options: AuthClientOptions) {
    this.base = options.url.replace(/^ws/, 'http').replace(/\/v1\/ws$/, '').replace(/\/$/, '');
  }

  async generateDisposableToken(scope: Scope, expiresIn: ExpiresIn, options: { tokenId?: string } = {}): Promise<GenerateDisposableToken.Response> {
    const seconds = expiresIn.seconds();
    if (seconds === null) {
      return new GenerateDisposableToken.Error(new TidingsClientError(ErrorCode.INVALID_ARGUMENT_ERROR, 'disposable tokens must expire'));
    }
    try {
      const res = await (this.options.fetch ?? fetch)(`${this.base}/v1/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.apiKey}` },
        body: JSON.stringify({ scope, expiresInSeconds: seconds, ...(options.tokenId !== undefined ? { tokenId: options.tokenId } : {}) }),
      });
      const body = (await res.json()) as { authToken?: string; expiresAt?: number; error?: WireError };
      if (!res.ok || !body.authToken) {
        const e = body.error ?? { code: ErrorCode.INTERNAL_SERVER_ERROR, message: `HTTP ${res.status}` };
        return new GenerateDisposableToken.Error(TidingsClientError.fromWire(e));
      }
      const ms = body.expiresAt!;
      return new GenerateDisposableToken.Success(body.authToken, { epoch: () => Math.floor(ms / 1000), epochMillis: () => ms });
    } catch (err) {
      return new GenerateDisposableToken.Error(new TidingsClientError(ErrorCode.CONNECTION_ERROR, (err as Error).message));
    }
  }
}
