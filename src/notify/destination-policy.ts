/** Which hosts a URL chosen by someone other than the operator may name: a push endpoint (any
 * token holder registers one) or a webhook added through the admin route (a cache's admin). The
 * server POSTs to these URLs, so without a policy they could reach this machine or the internal
 * network (an internal service, a cloud metadata endpoint at 169.254.169.254): server-side request
 * forgery. Refused: `localhost` names and IP literals that are loopback, private, link-local,
 * shared (CGNAT), unspecified, multicast or reserved. URL parsing has already normalised other
 * spellings of an address (2130706433, 0x7f.1 are 127.0.0.1). A DNS name is not resolved at
 * registration (its answer may change before the request): publicOnlyLookup checks the addresses
 * each connection is made to (outbound-post.ts). Keeping the server's egress restricted is still
 * wise (docs/push.md "Security notes", docs/webhooks.md "Delivery": internal addresses). */
import { lookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { BlockList, isIPv4, isIPv6 } from 'node:net';

// One list per family: node:net's BlockList matches an IPv4 address against IPv4-mapped IPv6 rules
// too, so ::ffff:0:0/96 in a shared list would refuse every IPv4 address, public ones included.
const INTERNAL_IPV4 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) INTERNAL_IPV4.addSubnet(network, prefix, 'ipv4');
const INTERNAL_IPV6 = new BlockList();
for (const [network, prefix] of [
  // Unspecified and loopback, IPv4-mapped and -translated (any IPv4 behind them), unique local, link-local, multicast.
  ['::', 127], ['::ffff:0:0', 96], ['64:ff9b::', 96], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) INTERNAL_IPV6.addSubnet(network, prefix, 'ipv6');

/** Why `url`'s host is not an acceptable destination, or undefined when it is. */
export function internalHostProblem(url: URL): string | undefined {
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return `host ${host} is this machine`;
  return internalAddressProblem(host.startsWith('[') ? host.slice(1, -1) : host);
}

/** Why a resolved `address` may not be connected to, or undefined when it may. */
export function internalAddressProblem(address: string): string | undefined {
  if ((isIPv4(address) && INTERNAL_IPV4.check(address, 'ipv4')) || (isIPv6(address) && INTERNAL_IPV6.check(address, 'ipv6'))) {
    return `${address} is an internal (loopback, private, link-local or reserved) address`;
  }
  return undefined;
}

/** A refused connection: the destination's name resolved to an internal address. */
export class InternalDestinationError extends Error {
  readonly code = 'ERR_TIDINGS_INTERNAL_DESTINATION';
}

type LookupAnswer = string | Array<{ address: string; family: number }>;
type LookupCallback = (err: NodeJS.ErrnoException | null, address: LookupAnswer, family?: number) => void;

/** Host names to addresses, all of them: node:dns `lookup` by default; the notify feature takes
 * another (its `lookup` option), whose answers connectLookup checks all the same. */
export type HostLookup = (hostname: string, options: LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/** A `net.connect` lookup that resolves with `resolve` and, unless `allowInternal`, refuses the
 * connection when any answer is internal. The check at registration (internalHostProblem) cannot
 * see what a DNS name resolves to, or will resolve to at the time of the request; this runs for
 * every new connection, on the very addresses it connects to. Refusing on any internal answer (not
 * only the first) keeps a name with a public and an internal record from reaching the internal one
 * on a retry. */
export function connectLookup(resolve: HostLookup = lookup, allowInternal = false): (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback) => void {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, answers) => {
      if (err) return callback(err, '', undefined);
      for (const { address } of allowInternal ? [] : answers) {
        const problem = internalAddressProblem(address);
        if (problem) return callback(new InternalDestinationError(`${hostname} resolves to ${problem}`), '', undefined);
      }
      if (options.all) return callback(null, answers);
      const [first] = answers;
      if (!first) return callback(Object.assign(new Error(`${hostname} resolved to no address`), { code: 'ENOTFOUND' }), '', undefined);
      callback(null, first.address, first.family);
    });
  };
}
