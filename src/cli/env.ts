/** Reads configuration from a JSON file and TIDINGS_* environment variables (env wins over file,
 * flags win over env). Only documented variables are read (docs/configuration.md). */
import { readFileSync } from 'node:fs';
import { DEFAULTS, type DeepPartial, type TidingsConfig } from '../core/config.js';

type Patch = DeepPartial<TidingsConfig>;

/** Environment variable -> config path, with how to parse it. */
export const ENV_VARS: Record<string, { path: string; parse: 'int' | 'string' | 'bool' | 'list' }> = {
  // The port most hosting platforms set. Listed before TIDINGS_PORT, which is read after it and wins.
  PORT: { path: 'server.port', parse: 'int' },
  TIDINGS_HOST: { path: 'server.host', parse: 'string' },
  TIDINGS_PORT: { path: 'server.port', parse: 'int' },
  TIDINGS_DEV: { path: 'dev', parse: 'bool' },
  TIDINGS_LOG_LEVEL: { path: 'logLevel', parse: 'string' },
  TIDINGS_SIGNING_KEY: { path: 'auth.signingKeys', parse: 'list' },
  TIDINGS_CORS_ORIGINS: { path: 'server.corsOrigins', parse: 'list' },
  TIDINGS_ADMIN_TOKEN_IDS: { path: 'admin.tokenIds', parse: 'list' },
  TIDINGS_ENGINE: { path: 'engine', parse: 'string' },
  TIDINGS_REDIS_URL: { path: 'redis.url', parse: 'string' },
  TIDINGS_REDIS_SHARDS: { path: 'redis.shards', parse: 'list' },
  TIDINGS_REDIS_KEY_PREFIX: { path: 'redis.keyPrefix', parse: 'string' },
  TIDINGS_MOMENTO_PORT: { path: 'momento.port', parse: 'int' },
  TIDINGS_MOMENTO_ENDPOINT: { path: 'momento.endpoint', parse: 'string' },
  TIDINGS_VAPID_PUBLIC_KEY: { path: 'push.vapidPublicKey', parse: 'string' },
  TIDINGS_VAPID_PRIVATE_KEY: { path: 'push.vapidPrivateKey', parse: 'string' },
  TIDINGS_VAPID_SUBJECT: { path: 'push.subject', parse: 'string' },
};

export function readConfigFile(path: string): Patch {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    // V8's message may quote the text around the error, which can be a secret (a signing key,
    // a VAPID private key, a Redis password): name only the position.
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new Error(`cannot read config file ${path}: not valid JSON${at !== undefined ? ` (at position ${at})` : ''}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`cannot read config file ${path}: must be a JSON object`);
  return parsed as Patch;
}

export function configFromEnv(env: NodeJS.ProcessEnv): Patch {
  const problem = unreadVariableProblem(env);
  if (problem) throw new Error(problem);
  const patch: Record<string, unknown> = {};
  for (const [name, { path, parse }] of Object.entries(ENV_VARS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    setPath(patch, path, parseValue(name, raw, parse));
  }
  // Naming the gRPC port is asking for the listener (there is no separate "enable" variable).
  if (env['TIDINGS_MOMENTO_PORT']) setPath(patch, 'momento.enabled', true);
  return patch as Patch;
}

/** TIDINGS_ variables the CLI reads besides ENV_VARS (`tidings revoke`'s key). */
const OTHER_VARS: ReadonlySet<string> = new Set(['TIDINGS_API_KEY']);

/** Why a TIDINGS_ variable that is not read looks like a mistake, or undefined. A misspelt name
 * (TIDINGS_SIGNNG_KEY) or one named after a config key (TIDINGS_SERVER_MAX_CONNECTIONS) would
 * otherwise be ignored without a word: a server in dev mode, or on a default limit. Other
 * TIDINGS_ names (an app's own, like the examples' TIDINGS_URL) are left alone. */
export function unreadVariableProblem(env: NodeJS.ProcessEnv): string | undefined {
  const known = Object.keys(ENV_VARS).filter((name) => name.startsWith('TIDINGS_'));
  for (const name of Object.keys(env)) {
    if (!name.startsWith('TIDINGS_') || Object.hasOwn(ENV_VARS, name) || OTHER_VARS.has(name)) continue;
    const key = CONFIG_SHAPED.get(name);
    // Short names get one edit: TIDINGS_KEY is two from TIDINGS_DEV, and likely an app's own.
    const near = key
      ? known.find((k) => ENV_VARS[k]!.path === key)
      : known.find((k) => editDistance(name, k) <= (name.length - 'TIDINGS_'.length <= 5 ? 1 : 2));
    if (near) return `${name} is not a variable Tidings reads; did you mean ${near}? (docs/configuration.md lists the variables)`;
    if (key) return `${name} is not a variable Tidings reads; set ${key} in the --config file (docs/configuration.md lists the variables)`;
  }
  return undefined;
}

/** TIDINGS_SECTION_KEY for every config key, and TIDINGS_KEY for the keys of more than one word
 * (one-word ones, like `url`, are too likely an app's own name), mapped to the key's path. */
const CONFIG_SHAPED: ReadonlyMap<string, string> = (() => {
  const snake = (camel: string) => camel.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
  const names = new Map<string, string>();
  const visit = (node: unknown, path: string[]) => {
    if (node && typeof node === 'object' && !Array.isArray(node)) {
      for (const [k, v] of Object.entries(node)) visit(v, [...path, k]);
      return;
    }
    const key = path[path.length - 1]!;
    names.set(`TIDINGS_${path.map(snake).join('_')}`, path.join('.'));
    if (/[A-Z]/.test(key) && !names.has(`TIDINGS_${snake(key)}`)) names.set(`TIDINGS_${snake(key)}`, path.join('.'));
  };
  visit(DEFAULTS, []);
  return names;
})();

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of
 * neighbours (TIDINGS_PROT is one from TIDINGS_PORT). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

function parseValue(name: string, raw: string, parse: 'int' | 'string' | 'bool' | 'list'): unknown {
  switch (parse) {
    case 'int': return parseInteger(name, raw);
    case 'bool':
      if (!['1', '0', 'true', 'false'].includes(raw)) throw new Error(`${name} must be true or false`);
      return raw === '1' || raw === 'true';
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
    case 'string':
      return raw;
  }
}

/** Decimal digits (and a leading -) only. Number() reads '' and blanks as 0 (TIDINGS_PORT=" " or
 * `--port "$UNSET"` would listen on a random port) and takes hex, binary and exponents. Shared by
 * environment variables and command-line flags. */
export function parseInteger(name: string, raw: string): number {
  const text = raw.trim();
  if (!/^-?\d+$/.test(text)) throw new Error(`${name} must be an integer`);
  return Number(text);
}

export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) node = childObject(node, key);
  setOwn(node, keys[keys.length - 1]!, value);
}

/** Deep-merges config patches, later ones winning. Keys are only ever own properties: a config
 * file's "__proto__" must reach resolveConfig as the unknown key it is, not write to
 * Object.prototype (which crashed the process on the next GC metric). */
export function mergePatches(...patches: Patch[]): Patch {
  const out: Record<string, unknown> = {};
  const merge = (into: Record<string, unknown>, from: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(from)) {
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        // A config file's `"server": []` stays for resolveConfig to name, not replaced by a flag's `server.port`.
        const held = Object.hasOwn(into, k) ? into[k] : undefined;
        if (held !== undefined && (held === null || typeof held !== 'object' || Array.isArray(held))) continue;
        merge(childObject(into, k), v as Record<string, unknown>);
      }
      else setOwn(into, k, v);
    }
  };
  for (const p of patches) merge(out, p as Record<string, unknown>);
  return out as Patch;
}

/** `node[key]` as an own plain object, created when absent (never an inherited one). */
function childObject(node: Record<string, unknown>, key: string): Record<string, unknown> {
  const child = Object.hasOwn(node, key) ? node[key] : undefined;
  if (child && typeof child === 'object' && !Array.isArray(child)) return child as Record<string, unknown>;
  const created: Record<string, unknown> = {};
  setOwn(node, key, created);
  return created;
}

/** An own property even for "__proto__" (plain assignment would set the prototype). */
function setOwn(node: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true });
}
