/** `host:port` as URLs and gRPC endpoints spell it: an IPv6 address goes in brackets
 * (`[::1]:8080`; `::1:8080` is no address at all). */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
