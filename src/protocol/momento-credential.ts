/** Momento-shaped credentials: standard base64 (with padding) of `{"endpoint", "api_key"}`, the form
 * the official SDKs accept from `CredentialProvider.fromString` / `fromDisposableToken` (their "v1"
 * keys). Tidings puts its own signed credential in `api_key`; the SDKs treat it as opaque and send it
 * as the `authorization` metadata. Shared by the CLI, the server and tidings/client, so it uses
 * only what browsers have too (btoa/atob, TextEncoder). */

export interface MomentoCredential { endpoint: string; apiKey: string }

export function encodeMomentoCredential(credential: MomentoCredential): string {
  const json = JSON.stringify({ endpoint: credential.endpoint, api_key: credential.apiKey });
  let binary = '';
  for (const byte of new TextEncoder().encode(json)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The inner credential and endpoint, or undefined when `text` is not a Momento-shaped credential
 * (e.g. it is a bare Tidings JWT). The SDK's rule: standard base64 that re-encodes to itself. */
export function decodeMomentoCredential(text: string): MomentoCredential | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  let parsed: unknown;
  try {
    const binary = atob(text);
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { endpoint, api_key: apiKey } = parsed as Record<string, unknown>;
  if (typeof apiKey !== 'string' || apiKey.length === 0 || typeof endpoint !== 'string') return undefined;
  return { endpoint, apiKey };
}

/** A credential as given by a user or an SDK: a Momento-shaped one is unwrapped, anything else is
 * taken to be a Tidings credential already. */
export function innerCredential(text: string): string {
  return decodeMomentoCredential(text)?.apiKey ?? text;
}
