/** The chat moderator: one group on every `<room>-input` topic of the chat cache, applying the chat
 * rules (demo/rules.ts). The dev server starts one in process (src/cli/dev-moderator.ts) for the demo
 * page; examples/moderator.ts runs the same one from a terminal. Both join the same group, so they
 * share the load, and a room is the same room from the browser and from the terminal.
 * It is an ordinary SDK client of the broker: server code never imports it. */
import WebSocket from 'ws';
import {
  Connection, Moderator, PermissionScopes,
  type ConnectionStatus, type ModerationDecision, type ModerationInput, type Scope, type WebSocketConstructor,
} from '../src/client/index.js';
import { CHAT_RULES, moderateChat, type ChatRules } from './rules.js';

/** The cache of the demo page (src/server/demo-routes.ts mints tokens for it) and of the examples. */
export const CHAT_CACHE = 'chat';
export const CHAT_GROUP = 'moderators';

/** What a moderator credential must allow. */
export function chatModeratorScope(cache: string = CHAT_CACHE): Scope {
  return PermissionScopes.moderator(cache);
}

export interface ChatModeratorOptions {
  /** The broker: http(s)://host:port or its ws(s)://host:port/v1/ws URL. */
  url: string;
  /** A credential allowing chatModeratorScope(cache). */
  token: string;
  cache?: string;
  group?: string;
  rules?: ChatRules;
  clientName?: string;
  /** Stop trying after this many failed connection attempts in a row (default: never give up). */
  maxReconnectAttempts?: number;
  onDecision?(input: ModerationInput, decision: ModerationDecision): void;
  onError?(error: unknown, input: ModerationInput | undefined): void;
  onStatus?(status: ConnectionStatus): void;
}

export interface ChatModerator {
  readonly moderator: Moderator;
  /** Leaves the group (held items go to the other members) and closes the connection. */
  stop(): Promise<void>;
}

/** Connects, joins the group and moderates until stopped. Rejects when the join is refused or the
 * connection gives up (maxReconnectAttempts), with the reason. */
export async function startChatModerator(options: ChatModeratorOptions): Promise<ChatModerator> {
  const rules = options.rules ?? CHAT_RULES;
  const connection = new Connection({
    url: options.url,
    token: options.token,
    // Node 20 has no global WebSocket; `ws` is a dev dependency, like this moderator.
    webSocket: WebSocket as unknown as WebSocketConstructor,
    clientName: options.clientName ?? 'tidings-chat-moderator',
    ...(options.maxReconnectAttempts !== undefined ? { maxReconnectAttempts: options.maxReconnectAttempts } : {}),
  });
  if (options.onStatus) connection.onStatus(options.onStatus);
  let moderator: Moderator;
  try {
    moderator = await Moderator.start({
      connection,
      cache: options.cache ?? CHAT_CACHE,
      group: options.group ?? CHAT_GROUP,
      moderate: (input) => {
        const decision = moderateChat(rules, input);
        options.onDecision?.(input, decision);
        return decision;
      },
      ...(options.onError ? { onError: options.onError } : {}),
    });
  } catch (err) {
    connection.close();
    throw err;
  }
  return {
    moderator,
    async stop() {
      await moderator.stop();
      connection.close();
    },
  };
}
