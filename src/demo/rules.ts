/** The demo moderation rules: a word filter and a length limit (also used by examples/moderator.ts). */
import type { ModerationDecision, ModerationInput } from '../client/moderator.js';

export interface ChatRules {
  /** Longest message, in characters, after trimming. */
  maxLength: number;
  /** Whole words refused (case-insensitive). */
  blockedWords: readonly string[];
}

export const DEMO_RULES: ChatRules = { maxLength: 280, blockedWords: ['spam', 'scam', 'darn'] };

/** Accepts trimmed text with runs of whitespace collapsed; rejects binary, empty, too long, or a
 * message with a blocked word, saying which rule it broke. */
export function moderateChat(rules: ChatRules, input: Pick<ModerationInput, 'value'>): ModerationDecision {
  if (typeof input.value !== 'string') return { reject: 'only text messages are allowed here' };
  const text = input.value.replace(/\s+/g, ' ').trim();
  if (text.length === 0) return { reject: 'the message is empty' };
  if (text.length > rules.maxLength) return { reject: `the message is ${text.length} characters long; the limit is ${rules.maxLength}` };
  const words = text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
  const blocked = words.find((w) => rules.blockedWords.includes(w));
  if (blocked) return { reject: `the word "${blocked}" is not allowed in this chat` };
  return { accept: text === input.value ? true : text };
}
