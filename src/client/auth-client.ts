/** Mints disposable tokens from an API key over HTTP (`POST /v1/tokens`), like Momento's
 * AuthClient. For backends: the API key must never reach a browser. */
import { ErrorCode, type ExpiresIn, type Scope, type WireError, isErrorCode } from '../protocol/index.js';
import type { RequestOptions } from './connection.js';
import { TidingsClientError } from './errors.js';
import { CONNECTION_DEFAULTS, httpBaseUrl, timeoutProblem } from './options.js';
import { ExpiresAt, GenerateDisposableToken, orThrow } from './responses.js';
import type { Configuration, CredentialProvider } from './momento-config.js';

export interface AuthClientOptions {
  /** The broker's HTTP base URL, e.g. http://127.0.0.1:8080 (a ws://…/v1/ws URL is accepted too). */
  url: string;
  apiKey: string;
  /** fetch implementation (global fetch by default). */
  fetch?: typeof fetch;
  /** Per-request timeout, ms (default 15 000). */
  requestTimeoutMs?: number;
  /** Throw errors instead of returning GenerateDisposableToken.Error. */
  throwOnErrors?: boolean;
}

/** Momento's shape: the API key and the broker URL come from the credential provider. */
export interface MomentoStyleAuthOptions {
  credentialProvider: CredentialProvider;
  configuration?: Configuration;
  fetch?: typeof fetch;
}

/** The code of a reply that carries no typed error (a proxy's or gateway's), by its status as
 * docs/http-api.md maps them: only 502/503 say "retry later" and 504 "not in time"; a 500, or a
 * status the table does not name, is a failure a retry is not known to help. */
const UNTYPED_STATUS_ERRORS: ReadonlyMap<number, ErrorCode> = new Map([
  [400, ErrorCode.INVALID_ARGUMENT_ERROR],
  [401, ErrorCode.AUTHENTICATION_ERROR],
  [403, ErrorCode.PERMISSION_ERROR],
  [404, ErrorCode.NOT_FOUND_ERROR],
  [413, ErrorCode.LIMIT_EXCEEDED_ERROR],
  [429, ErrorCode.LIMIT_EXCEEDED_ERROR],
  [502, ErrorCode.SERVER_UNAVAILABLE],
  [503, ErrorCode.SERVER_UNAVAILABLE],
  [504, ErrorCode.TIMEOUT_ERROR],
]);

function untypedStatusError(status: number): ErrorCode {
  return UNTYPED_STATUS_ERRORS.get(status) ?? ErrorCode.INTERNAL_SERVER_ERROR;
}

export class AuthClient {
  private readonly base: string;
  private readonly options: AuthClientOptions;
  constructor(input: AuthClientOptions | MomentoStyleAuthOptions) {
    const options: AuthClientOptions = input && 'credentialProvider' in input
      ? {
        url: input.credentialProvider.getCacheEndpoint() ?? '',
        apiKey: input.credentialProvider.getAuthToken(),
        ...(input.fetch ? { fetch: input.fetch } : {}),
        ...(input.configuration ? { requestTimeoutMs: input.configuration.getClientTimeoutMillis(), throwOnErrors: input.configuration.getThrowOnErrors() } : {}),
      }
      : input;
    this.options = options;
    if (!options?.url) throw new TypeError('options.url is required');
    if (!options.apiKey) throw new TypeError('options.apiKey is required');
    const timeout = options.requestTimeoutMs === undefined ? undefined : timeoutProblem(options.requestTimeoutMs);
    if (timeout) throw new TypeError(`options.requestTimeoutMs: ${timeout}`);
    this.base = httpBaseUrl(options.url);
  }

  /** A token with `scope` (at most the API key's own) that expires; `tokenId` is stamped on
   * everything its holder publishes. */
  async generateDisposableToken(
    scope: Scope, expiresIn: ExpiresIn, options: { tokenId?: string } & RequestOptions = {},
  ): Promise<GenerateDisposableToken.Response> {
    return orThrow(await this.mint(scope, expiresIn, options), this.options.throwOnErrors ?? false);
  }

  private async mint(scope: Scope, expiresIn: ExpiresIn, options: { tokenId?: string } & RequestOptions): Promise<GenerateDisposableToken.Response> {
    const fail = (code: ErrorCode, message: string) => new GenerateDisposableToken.Error(new TidingsClientError(code, message));
    const seconds = expiresIn.seconds();
    if (seconds === null) return fail(ErrorCode.INVALID_ARGUMENT_ERROR, 'disposable tokens must expire');
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs ?? CONNECTION_DEFAULTS.requestTimeoutMs;
    // Past 2^31 - 1 ms the timer would fire at once, not never.
    const problem = timeoutProblem(timeoutMs);
    if (problem) return fail(ErrorCode.INVALID_ARGUMENT_ERROR, problem);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const signal = options.signal ?? options.abortSignal;
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted) return fail(ErrorCode.CANCELLED_ERROR, 'token request was cancelled');
      const res = await (this.options.fetch ?? fetch)(`${this.base}/v1/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.apiKey}` },
        body: JSON.stringify({ scope, expiresInSeconds: seconds, ...(options.tokenId !== undefined ? { tokenId: options.tokenId } : {}) }),
        signal: controller.signal,
      });
      let body: { authToken?: string; expiresAt?: number; error?: WireError } = {};
      try { body = (await res.json()) as typeof body; } catch { /* not JSON: reported below by status */ }
      if (!res.ok || typeof body.authToken !== 'string' || typeof body.expiresAt !== 'number') {
        const e = body.error && isErrorCode(body.error.code)
          ? body.error
          : { code: untypedStatusError(res.status), message: `POST /v1/tokens answered HTTP ${res.status}` };
        return new GenerateDisposableToken.Error(TidingsClientError.fromWire(e));
      }
      return new GenerateDisposableToken.Success(body.authToken, ExpiresAt.fromEpochMillis(body.expiresAt), this.base);
    } catch (err) {
      if (signal?.aborted) return fail(ErrorCode.CANCELLED_ERROR, 'token request was cancelled');
      if (controller.signal.aborted) return fail(ErrorCode.TIMEOUT_ERROR, `no answer from ${this.base}/v1/tokens within ${timeoutMs} ms`);
      return fail(ErrorCode.CONNECTION_ERROR, `cannot reach ${this.base}/v1/tokens: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
