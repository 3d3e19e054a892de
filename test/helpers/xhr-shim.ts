/** The two globals @gomomento/sdk-web needs under Node 20 (docs/momento-compat.md, "Web SDK"):
 * `navigator` (it reads navigator.userAgent) and an XMLHttpRequest for grpc-web, here a small one
 * over node:http. It does what grpc-web's XhrIo uses: open/setRequestHeader/send/abort,
 * onreadystatechange with readyState 1-4, status, response headers, and a responseText that grows
 * as chunks arrive (a Subscribe is one long response). Installed only by test files that run the
 * web SDK. */
import http from 'node:http';

type Handler = (() => void) | null;

class NodeXMLHttpRequest {
  readyState = 0;
  status = 0;
  statusText = '';
  responseText = '';
  responseType = '';
  withCredentials = false;
  timeout = 0;
  onreadystatechange: Handler = null;
  ontimeout: Handler = null;
  private method = 'GET';
  private url = '';
  private headers: Record<string, string> = {};
  private responseHeaders: http.IncomingHttpHeaders = {};
  private request: http.ClientRequest | undefined;
  private aborted = false;

  get response(): string { return this.responseText; }

  open(method: string, url: string): void {
    this.method = method;
    this.url = url;
    this.changed(1);
  }

  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  getResponseHeader(name: string): string | null {
    const value = this.responseHeaders[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : String(value);
  }

  getAllResponseHeaders(): string {
    return Object.entries(this.responseHeaders).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`).join('\r\n');
  }

  send(body?: string | null): void {
    const request = http.request(this.url, { method: this.method, headers: this.headers }, (res) => {
      this.status = res.statusCode ?? 0;
      this.statusText = res.statusMessage ?? '';
      this.responseHeaders = res.headers;
      this.changed(2);
      // grpc-web-text is base64: latin1 keeps every byte as one character.
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => { this.responseText += chunk; this.changed(3); });
      res.on('end', () => this.changed(4));
      res.on('error', () => this.fail());
    });
    request.on('error', () => this.fail());
    this.request = request;
    request.end(body ?? undefined);
  }

  abort(): void {
    this.aborted = true;
    this.request?.destroy();
  }

  private fail(): void {
    if (this.aborted) return;
    this.status = 0;
    this.changed(4);
  }

  private changed(state: number): void {
    if (this.aborted) return;
    this.readyState = state;
    this.onreadystatechange?.();
  }
}

export function installWebSdkGlobals(): void {
  const g = globalThis as Record<string, unknown>;
  g['XMLHttpRequest'] ??= NodeXMLHttpRequest;
  g['navigator'] ??= { userAgent: `node/${process.versions.node}` };
}
