/** The chat rules of the demo page and of the terminal examples (examples/moderator.ts): one rule
 * set, so a room behaves the same whichever side a message comes from. */
import type { ModerationDecision, ModerationInput } from '../src/client/index.js';

export interface ChatRules {
  /** Longest message, in characters, after trimming. */
  maxLength: number;
  /** Whole words refused (case-insensitive). */
  blockedWords: readonly string[];
}

export const CHAT_RULES: ChatRules = { maxLength: 280, blockedWords: ['spam', 'scam', 'darn'] };

/** Accepts trimmed text with runs of whitespace collapsed; rejects binary, empty, too long, or a
 * message with a blocked word, saying which rule it broke (the sender sees the reason). */
export function moderateChat(rules: ChatRules, input: Pick<ModerationInput, 'value'>): ModerationDecision {
  if (typeof input.value !== 'string') return { reject: 'only text messages are allowed here' };
  const text = input.value.replace(/\s+/g, ' ').trim();
  if (text.length === 0) return { reject: 'the message is empty' };
  const length = [...text].length;
  if (length > rules.maxLength) return { reject: `the message is ${length} characters long; the limit is ${rules.maxLength}` };
  const words = text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
  const blocked = words.find((w) => rules.blockedWords.includes(w));
  if (blocked) return { reject: `the word "${blocked}" is not allowed in this chat` };
  return { accept: text === input.value ? true : text };
}
