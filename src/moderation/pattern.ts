/** Group patterns: which topics are a group's input, and which output topic each one feeds. */
import { nameProblem, type GroupPattern } from '../protocol/index.js';
import { failedPrecondition, invalidArgument, type TidingsError } from '../core/errors.js';

export type Affix = { suffix: string } | { prefix: string };

/** Validates an untrusted `pattern` field: `{ nameSuffix }` or `{ namePrefix }`, non-empty text
 * without control characters. */
export function parsePattern(value: unknown): Affix {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument('pattern must be { nameSuffix } or { namePrefix }');
  const keys = Object.keys(value);
  const form = keys[0];
  if (keys.length !== 1 || (form !== 'nameSuffix' && form !== 'namePrefix')) throw invalidArgument('pattern must be { nameSuffix } or { namePrefix }');
  const text = (value as Record<string, unknown>)[form];
  const problem = nameProblem('topic pattern', text);
  if (problem) throw invalidArgument(`pattern.${form}: ${problem}`);
  return form === 'nameSuffix' ? { suffix: text as string } : { prefix: text as string };
}

export function toWirePattern(affix: Affix): GroupPattern {
  return 'suffix' in affix ? { nameSuffix: affix.suffix } : { namePrefix: affix.prefix };
}

export function sameAffix(a: Affix, b: Affix): boolean {
  return 'suffix' in a ? 'suffix' in b && a.suffix === b.suffix : 'prefix' in b && a.prefix === b.prefix;
}

function matches(affix: Affix, name: string): boolean {
  return 'suffix' in affix ? name.endsWith(affix.suffix) : name.startsWith(affix.prefix);
}

/** The output topic fed by input topic `topic`, or undefined when `topic` is not an input of the
 * pattern. A name whose output would be blank, or would itself match the pattern (`a-input-input`),
 * is not an input: otherwise one chat's moderated stream would be another chat's raw input and a
 * moderator would consume its own output. */
export function outputOf(affix: Affix, topic: string): string | undefined {
  if (!matches(affix, topic)) return undefined;
  const output = 'suffix' in affix ? topic.slice(0, topic.length - affix.suffix.length) : topic.slice(affix.prefix.length);
  if (nameProblem('topic', output) !== undefined || matches(affix, output)) return undefined;
  return output;
}

/** A pubAppend (a user's, or an accept into an output topic) to a topic that is a group's input:
 * groups are fed by `pub` only, and the append would keep the unmoderated item. Both engines. */
export function inputTopicRefusal(topic: string): TidingsError {
  return failedPrecondition(`topic "${topic}" is the input of a moderator group: publish to it with pub`);
}
