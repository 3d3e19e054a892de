/** Parses an HTTP request's JSON body within the request-shape limits (core/request-shape.ts):
 * refuses bytes that are not UTF-8 (Buffer's decoder would swap them for U+FFFD silently, and the
 * parsed text would differ from what was sent), then counts the body's values and nesting before
 * JSON.parse runs, since parsing costs per value (a body of `[[[[…` or `[{},{},…` costs the parser
 * many times what a string of the same size does). */
import { isUtf8 } from 'node:buffer';
import { invalidArgument } from '../core/errors.js';
import { shapeRefusal, type RequestShapeLimits } from '../core/request-shape.js';
import type { FrameShape } from '../protocol/peek.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The values (keys included) and nesting of a JSON text, counted without parsing it; stops as
 * soon as a limit is passed. Invalid JSON is left to JSON.parse, which fails on it within the same
 * bounds. */
export function jsonShape(body: Uint8Array, maxElements: number, maxDepth: number): FrameShape {
  let elements = 0;
  let depth = 0;
  // A value may start here: at the start, and after `[`, `{`, `,` or `:`.
  let expectValue = true;
  for (let i = 0; i < body.length; i++) {
    const b = body[i]!;
    if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
    if (expectValue && b !== 0x5d && b !== 0x7d) {
      if (++elements > maxElements) return { problem: 'elements' };
      expectValue = false;
    }
    if (b === QUOTE) {
      i = stringEnd(body, i);
      if (i < 0) break;
    } else if (b === 0x5b || b === 0x7b) { // [ {
      if (++depth > maxDepth) return { problem: 'depth' };
      expectValue = true;
    } else if (b === 0x5d || b === 0x7d) { // ] }
      depth--;
      expectValue = false;
    } else if (b === 0x2c || b === 0x3a) { // , :
      expectValue = true;
    }
  }
  return { elements };
}

/** Index of the quote closing the string opened at `open`, or -1 when the text ends first. */
function stringEnd(body: Uint8Array, open: number): number {
  let at = open;
  for (;;) {
    at = body.indexOf(QUOTE, at + 1);
    if (at < 0) return -1;
    let backslashes = 0;
    while (body[at - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}

/** A JSON object body, with typed errors: INVALID_ARGUMENT_ERROR for bytes that are not UTF-8 or
 * JSON or not an object, LIMIT_EXCEEDED_ERROR past the shape limits. `elements` is what the body
 * holds, for a caller that charges requests by it. An empty body is `{}` where `emptyIsObject`. */
export function parseJsonObject(body: Buffer, limits: RequestShapeLimits, emptyIsObject = false): { value: Record<string, unknown>; elements: number } {
  if (body.byteLength === 0 && emptyIsObject) return { value: {}, elements: 1 };
  if (!isUtf8(body)) throw invalidArgument('body must be UTF-8 JSON: it holds bytes that are not UTF-8');
  const shape = jsonShape(body, limits.maxRequestElements, limits.maxRequestDepth);
  if (shape.problem) throw shapeRefusal(shape.problem, limits);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalidArgument('body must be JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidArgument('body must be a JSON object');
  return { value: parsed as Record<string, unknown>, elements: shape.elements };
}
