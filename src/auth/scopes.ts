/** Scope grammar (validation of untrusted JSON) and matching: does a set of permissions allow an
 * action on (cache, name)? Permissions add up: any one match allows. */
import {
  CACHE_ROLES, TOPIC_ROLES, isTopicPermission, nameProblem,
  type CacheSelector, type ItemSelector, type Permission, type Scope, type TopicPermission, type TopicSelector,
} from '../protocol/index.js';
import { invalidArgument } from '../core/errors.js';
import { SharedValues } from '../lib/interner.js';

/** `presence` is granted only by a topic permission with `presence: true` (docs/tokens.md). */
export type TopicAction = 'publish' | 'subscribe' | 'presence';
export type CacheAction = 'read' | 'write';

const TOPIC_ROLE_ALLOWS: Record<string, readonly TopicAction[]> = {
  publishsubscribe: ['publish', 'subscribe'],
  subscribeonly: ['subscribe'],
  publishonly: ['publish'],
};
const CACHE_ROLE_ALLOWS: Record<string, readonly CacheAction[]> = {
  readwrite: ['read', 'write'],
  readonly: ['read'],
  writeonly: ['write'],
};

/** The role's actions, plus `presence` when the permission asks for it. A minted token may ask for
 * presence only where its minter has it (covers checks every action). */
function topicActions(p: TopicPermission): readonly TopicAction[] {
  const actions = TOPIC_ROLE_ALLOWS[p.role]!;
  return p.presence === true ? [...actions, 'presence'] : actions;
}

/** A permission in words, for messages: `subscribeonly on topic room-* of cache chat`. */
export function describePermission(p: Permission): string {
  const name = (s: NormalSelector) => ('all' in s ? '*' : 'name' in s ? s.name : 'prefix' in s ? `${s.prefix}*` : `*${s.suffix}`);
  const cache = name(normalizeCache(p.cache));
  if (isTopicPermission(p)) return `${p.role} on topic ${name(normalizeTopic(p.topic))} of cache ${cache}`;
  const item = normalizeItem(p.item);
  return 'all' in item ? `${p.role} on cache ${cache}` : `${p.role} on item ${name(item)} of cache ${cache}`;
}

/** A name matcher compiled from a selector. `covers` answers for a whole selector (used when minting
 * a narrower token from a key, and for pattern subscriptions). */
interface NameMatcher {
  matches(name: string): boolean;
  covers(selector: NormalSelector): boolean;
}

/** Selectors in one shape: all, exact, prefix or suffix. */
export type NormalSelector = { all: true } | { name: string } | { prefix: string } | { suffix: string };

export function normalizeCache(selector: CacheSelector): NormalSelector {
  if (selector === '*') return { all: true };
  if (typeof selector === 'string') return { name: selector };
  return { name: selector.name };
}
export function normalizeItem(selector: ItemSelector | undefined): NormalSelector {
  if (selector === undefined || selector === '*') return { all: true };
  if (typeof selector === 'string') return { name: selector };
  if ('key' in selector) return { name: selector.key };
  return { prefix: selector.keyPrefix };
}
export function normalizeTopic(selector: TopicSelector): NormalSelector {
  if (selector === '*') return { all: true };
  if (typeof selector === 'string') return { name: selector };
  if ('name' in selector) return { name: selector.name };
  if ('namePrefix' in selector) return { prefix: selector.namePrefix };
  return { suffix: selector.nameSuffix };
}

function matcher(selector: NormalSelector): NameMatcher {
  if ('all' in selector) return { matches: () => true, covers: () => true };
  if ('name' in selector) {
    const exact = selector.name;
    return { matches: (n) => n === exact, covers: (s) => 'name' in s && s.name === exact };
  }
  if ('prefix' in selector) {
    const prefix = selector.prefix;
    return {
      matches: (n) => n.startsWith(prefix),
      covers: (s) => ('name' in s && s.name.startsWith(prefix)) || ('prefix' in s && s.prefix.startsWith(prefix)),
    };
  }
  const suffix = selector.suffix;
  return {
    matches: (n) => n.endsWith(suffix),
    covers: (s) => ('name' in s && s.name.endsWith(suffix)) || ('suffix' in s && s.suffix.endsWith(suffix)),
  };
}

interface CompiledPermission {
  family: 'topic' | 'cache';
  actions: readonly string[];
  cache: NameMatcher;
  target: NameMatcher;
}

/** The permissions of one credential, compiled for fast checks on the hot path. */
export class Permissions {
  private readonly compiled: CompiledPermission[];

  constructor(readonly permissions: readonly Permission[]) {
    this.compiled = permissions.map((p) =>
      isTopicPermission(p)
        ? { family: 'topic', actions: topicActions(p), cache: matcher(normalizeCache(p.cache)), target: matcher(normalizeTopic(p.topic)) }
        : { family: 'cache', actions: CACHE_ROLE_ALLOWS[p.role]!, cache: matcher(normalizeCache(p.cache)), target: matcher(normalizeItem(p.item)) },
    );
  }

  allowsTopic(action: TopicAction, cache: string, topic: string): boolean {
    return this.allows('topic', action, cache, topic);
  }

  allowsCache(action: CacheAction, cache: string, key: string): boolean {
    return this.allows('cache', action, cache, key);
  }

  /** True when one permission allows `action` on every topic the selector can name (pattern
   * subscriptions must be covered whole, never per match). */
  allowsTopicSelector(action: TopicAction, cache: string, selector: NormalSelector): boolean {
    return this.compiled.some((p) => p.family === 'topic' && p.actions.includes(action) && p.cache.matches(cache) && p.target.covers(selector));
  }

  /** True when every permission of `other` is covered by one of ours (minting may only narrow). */
  covers(other: readonly Permission[]): boolean {
    return this.uncovered(other) === undefined;
  }

  /** The first permission of `other` (its index) with an action none of ours covers, so a refusal
   * can say which; undefined when `covers(other)`. */
  uncovered(other: readonly Permission[]): { index: number; action: TopicAction | CacheAction } | undefined {
    for (const [index, wanted] of other.entries()) {
      const family = isTopicPermission(wanted) ? 'topic' : 'cache';
      const actions = isTopicPermission(wanted) ? topicActions(wanted) : CACHE_ROLE_ALLOWS[wanted.role]!;
      const cache = normalizeCache(wanted.cache);
      const target = isTopicPermission(wanted) ? normalizeTopic(wanted.topic) : normalizeItem(wanted.item);
      const action = actions.find((a) =>
        !this.compiled.some((p) => p.family === family && p.actions.includes(a) && p.cache.covers(cache) && p.target.covers(target)),
      );
      if (action !== undefined) return { index, action };
    }
    return undefined;
  }

  private allows(family: 'topic' | 'cache', action: string, cache: string, name: string): boolean {
    for (const p of this.compiled) {
      if (p.family === family && p.actions.includes(action) && p.cache.matches(cache) && p.target.matches(name)) return true;
    }
    return false;
  }
}

/** The topics a credential may subscribe to, as a scope of its own: its topic permissions whose
 * role allows subscribing, each as `subscribeonly` without `presence`. What a push subscription
 * keeps of the credential that registered it (docs/push.md), so a push reaches it only for a topic
 * that credential could have subscribed to. One compiled copy per distinct list: the subscriptions
 * registered with tokens of one shape share it. */
export class SubscribeScopes {
  private readonly shared = new SharedValues<Permissions>(1024);

  /** `permissions`: a credential's (or a stored subscribe scope, which comes back unchanged). */
  of(permissions: readonly Permission[]): Permissions {
    const subscribe: TopicPermission[] = [];
    for (const p of permissions) {
      if (isTopicPermission(p) && TOPIC_ROLE_ALLOWS[p.role]!.includes('subscribe')) subscribe.push({ role: 'subscribeonly', cache: p.cache, topic: p.topic });
    }
    const key = JSON.stringify(subscribe);
    return this.shared.get(key) ?? this.shared.add(key, new Permissions(subscribe));
  }

  /** A stored subscribe scope (its permissions, as JSON gave them back), checked and compiled;
   * throws INVALID_ARGUMENT_ERROR when it is not one. */
  parse(stored: unknown): Permissions {
    return this.of(parseScope({ permissions: stored }, Number.MAX_SAFE_INTEGER).permissions);
  }
}

/** Validates untrusted scope JSON (from a token request or the CLI) and returns a clean copy. */
export function parseScope(input: unknown, maxPermissions: number): Scope {
  if (typeof input !== 'object' || input === null || !Array.isArray((input as Scope).permissions)) {
    throw invalidArgument('scope must be an object with a permissions array');
  }
  const list = (input as Scope).permissions;
  if (list.length === 0) throw invalidArgument('scope must grant at least one permission');
  if (list.length > maxPermissions) throw invalidArgument(`scope may hold at most ${maxPermissions} permissions`);
  return { permissions: list.map((p, i) => parsePermission(p, `permissions[${i}]`)) };
}

function parsePermission(p: unknown, path: string): Permission {
  if (typeof p !== 'object' || p === null) throw invalidArgument(`${path} must be an object`);
  const { role, cache, item, topic, presence } = p as Record<string, unknown>;
  if (!(TOPIC_ROLES as readonly unknown[]).includes(role) && !(CACHE_ROLES as readonly unknown[]).includes(role)) {
    throw invalidArgument(`${path}.role must be one of ${[...CACHE_ROLES, ...TOPIC_ROLES].join(', ')}`);
  }
  const cacheSel = parseSelector(cache, `${path}.cache`, 'cache', ['name']) as CacheSelector;
  if ((TOPIC_ROLES as readonly unknown[]).includes(role)) {
    if (item !== undefined) throw invalidArgument(`${path}: a topic permission has no item selector`);
    const topicSel = parseSelector(topic, `${path}.topic`, 'topic', ['name', 'namePrefix', 'nameSuffix']) as TopicSelector;
    if (presence !== undefined && typeof presence !== 'boolean') throw invalidArgument(`${path}.presence must be true or false`);
    return { role: role as Permission['role'], cache: cacheSel, topic: topicSel, ...(presence === true ? { presence: true } : {}) } as Permission;
  }
  if (topic !== undefined) throw invalidArgument(`${path}: a cache permission has no topic selector`);
  if (presence !== undefined) throw invalidArgument(`${path}: presence belongs to a topic permission`);
  const itemSel = item === undefined ? '*' : (parseSelector(item, `${path}.item`, 'key', ['key', 'keyPrefix']) as ItemSelector);
  return { role: role as Permission['role'], cache: cacheSel, item: itemSel } as Permission;
}

function parseSelector(value: unknown, path: string, kind: 'cache' | 'topic' | 'key', forms: string[]): unknown {
  if (value === '*') return '*';
  if (typeof value === 'string') {
    const problem = nameProblem(kind, value);
    if (problem) throw invalidArgument(`${path}: ${problem}`);
    return value;
  }
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value);
    const form = keys[0];
    if (keys.length === 1 && form !== undefined && forms.includes(form)) {
      const text = (value as Record<string, unknown>)[form];
      // A prefix or suffix may be any non-empty string; exact names follow the name grammar.
      const problem = form === 'name' || form === 'key' ? nameProblem(kind, text) : typeof text === 'string' && text.length > 0 ? undefined : `${form} must be a non-empty string`;
      if (problem) throw invalidArgument(`${path}: ${problem}`);
      return { [form]: text };
    }
  }
  throw invalidArgument(`${path} must be "*", a name, or one of ${forms.map((f) => `{ ${f} }`).join(', ')}`);
}
