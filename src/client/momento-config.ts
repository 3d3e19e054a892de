/** Momento's client-construction names, so code written for @gomomento/sdk(-web) runs against
 * Tidings with the import line and the endpoint changed: `Configurations`, `TopicConfigurations`,
 * `CredentialProvider`, `CacheRole`/`TopicRole`/`AllDataReadWrite`, `MomentoErrorCode`, `SdkError`.
 * Presets map onto our connection options (timeouts, reconnect backoff); there are no gRPC channels
 * to tune, because everything shares one WebSocket. */
import { ErrorCode, PermissionScopes, innerCredential, decodeMomentoCredential, type Scope } from '../protocol/index.js';
import type { ConnectionOptions } from './options.js';
import { TidingsClientError } from './errors.js';

/** The connection options a preset sets. */
export type PresetOptions = Pick<ConnectionOptions, 'requestTimeoutMs' | 'connectTimeoutMs' | 'reconnectBaseMs' | 'reconnectMaxMs' | 'throwOnErrors'>;

/** Momento's Configuration, reduced to what a WebSocket client has: a request timeout, connect
 * timeout, reconnect backoff and throwOnErrors. A logger factory argument is accepted and unused. */
export class Configuration {
  constructor(private readonly options: Readonly<PresetOptions>) {}
  getClientTimeoutMillis(): number { return this.options.requestTimeoutMs!; }
  withClientTimeoutMillis(ms: number): Configuration { return new Configuration({ ...this.options, requestTimeoutMs: ms }); }
  getThrowOnErrors(): boolean { return this.options.throwOnErrors ?? false; }
  withThrowOnErrors(throwOnErrors: boolean): Configuration { return new Configuration({ ...this.options, throwOnErrors }); }
  /** @internal the connection options this preset stands for. */
  connectionOptions(): PresetOptions { return { ...this.options }; }
}

const preset = (options: PresetOptions) => {
  const make = (_loggerFactory?: unknown) => new Configuration(options);
  return { v1: make, latest: make };
};

/** Cache client presets (Momento's names; values are request timeouts suited to each place). */
export const Configurations = {
  /** A browser over the internet: patient timeouts, long reconnect backoff. */
  Browser: preset({ requestTimeoutMs: 5_000, connectTimeoutMs: 10_000, reconnectBaseMs: 500, reconnectMaxMs: 30_000 }),
  /** A developer laptop over the internet. */
  Laptop: preset({ requestTimeoutMs: 15_000, connectTimeoutMs: 10_000, reconnectBaseMs: 250, reconnectMaxMs: 10_000 }),
  /** A server next to the broker. */
  InRegion: {
    Default: preset({ requestTimeoutMs: 1_100, connectTimeoutMs: 5_000, reconnectBaseMs: 100, reconnectMaxMs: 5_000 }),
    LowLatency: preset({ requestTimeoutMs: 500, connectTimeoutMs: 2_000, reconnectBaseMs: 50, reconnectMaxMs: 2_000 }),
  },
  Lambda: preset({ requestTimeoutMs: 1_100, connectTimeoutMs: 5_000, reconnectBaseMs: 100, reconnectMaxMs: 5_000 }),
} as const;

/** Topic client presets. */
export const TopicConfigurations = {
  Default: preset({ requestTimeoutMs: 5_000, connectTimeoutMs: 10_000, reconnectBaseMs: 250, reconnectMaxMs: 10_000 }),
  Browser: Configurations.Browser,
  Lambda: Configurations.Lambda,
} as const;

export interface CredentialProviderProps {
  apiKey?: string;
  authToken?: string;
  /** Where Tidings is: `{ baseEndpoint: 'https://broker.example' }` (Momento's override shape), or
   * `{ cacheEndpoint }`. The WebSocket URL is derived from it. */
  endpointOverrides?: { baseEndpoint?: string; cacheEndpoint?: string; secureConnection?: boolean };
}

/** Momento's CredentialProvider: a credential plus where to use it. Accepts a Tidings token, or the
 * Momento-shaped form (base64 `{endpoint, api_key}`) that `tidings token --momento` prints. */
export class CredentialProvider {
  private constructor(private readonly token: string, private readonly url: string | undefined) {}

  static fromString(props: string | CredentialProviderProps): CredentialProvider {
    const p: CredentialProviderProps = typeof props === 'string' ? { apiKey: props } : props;
    const raw = p.apiKey ?? p.authToken;
    if (!raw) throw new TidingsClientError(ErrorCode.INVALID_ARGUMENT_ERROR, 'CredentialProvider needs apiKey (or authToken)');
    const overrides = p.endpointOverrides;
    let url = overrides?.baseEndpoint ?? overrides?.cacheEndpoint;
    // A Momento-shaped credential names an endpoint; it is usable here only when it is a URL (the
    // gRPC host:port it usually names is not our WebSocket).
    const embedded = decodeMomentoCredential(raw)?.endpoint;
    if (url === undefined && embedded && /^(https?|wss?):\/\//i.test(embedded)) url = embedded;
    if (url !== undefined && !/^(https?|wss?):\/\//i.test(url)) url = `${overrides?.secureConnection === false ? 'http' : 'https'}://${url}`;
    return new CredentialProvider(innerCredential(raw), url);
  }

  static fromDisposableToken(props: string | CredentialProviderProps): CredentialProvider {
    return CredentialProvider.fromString(props);
  }

  /** Reads the credential from an environment variable (Node; MOMENTO_API_KEY by default). */
  static fromEnvironmentVariable(props: string | ({ environmentVariableName?: string } & Omit<CredentialProviderProps, 'apiKey' | 'authToken'>) = {}): CredentialProvider {
    const p = typeof props === 'string' ? { environmentVariableName: props } : props;
    const name = p.environmentVariableName ?? 'MOMENTO_API_KEY';
    const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
    const value = env[name];
    if (!value) throw new TidingsClientError(ErrorCode.INVALID_ARGUMENT_ERROR, `environment variable ${name} is not set`);
    return CredentialProvider.fromString({ ...p, apiKey: value });
  }
  static fromEnvVar = CredentialProvider.fromEnvironmentVariable;

  getAuthToken(): string { return this.token; }
  /** The broker URL the clients connect to, when one was given. */
  getCacheEndpoint(): string | undefined { return this.url; }
}

/** Momento's role names, as the string values our scopes use. */
export const CacheRole = { ReadWrite: 'readwrite', ReadOnly: 'readonly', WriteOnly: 'writeonly' } as const;
export type CacheRole = (typeof CacheRole)[keyof typeof CacheRole];
export const TopicRole = { PublishSubscribe: 'publishsubscribe', SubscribeOnly: 'subscribeonly', PublishOnly: 'publishonly' } as const;
export type TopicRole = (typeof TopicRole)[keyof typeof TopicRole];
/** Read and write on every cache and topic (Momento's AllDataReadWrite). */
export const AllDataReadWrite: Scope = Object.freeze(PermissionScopes.allDataReadWrite());

/** Momento's enum name for our error codes (same string values as Momento's MomentoErrorCode). */
export const MomentoErrorCode = ErrorCode;
export type MomentoErrorCode = ErrorCode;
/** Momento's error class name: errorCode(), message, wrappedErrorMessage(). */
export const SdkError = TidingsClientError;
export type SdkError = TidingsClientError;
