/** Tallies of what the server refused and why, for /metrics and the dashboard: error replies by
 * operation and code (every transport), LIMIT_EXCEEDED_ERROR by cause, and the connections it closed
 * by close code. Keys come from the protocol's own enums and the operations the server serves, never
 * from a client (an operation it does not serve is `unknown`): the label sets stay bounded. */
import { CloseCode, ErrorCode, type WireError } from '../protocol/index.js';

const CLOSE_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(CloseCode).map(([name, code]) => [code, name.toLowerCase()]));

/** A close code's name (`slow_consumer`, `authentication_failed`, ...), or `other`. */
export function closeName(code: number): string {
  return CLOSE_NAMES.get(code) ?? 'other';
}

/** The label an operation is counted under: itself when the server serves it, else `unknown` (a
 * frame that named none, or a name a client made up), so label sets stay bounded. */
export function opLabel(op: string | undefined, served: ReadonlySet<string>): string {
  return op !== undefined && served.has(op) ? op : 'unknown';
}

export class Refusals {
  /** Error replies since start, by `op\u0000code`. */
  readonly byOpAndCode = new Map<string, number>();
  /** LIMIT_EXCEEDED_ERROR replies since start, by cause. */
  readonly limitCauses = new Map<string, number>();
  /** Connections the server closed (a `bye`) since start, by close code name (`slow_consumer`, ...). */
  readonly closes = new Map<string, number>();

  /** `operations`: the names an `op` may be counted under. */
  private readonly operations: ReadonlySet<string>;

  constructor(operations: Iterable<string>) {
    this.operations = new Set(operations);
  }

  /** `op`: the request's operation; absent (a frame that named none) or not served: `unknown`. */
  refused(e: WireError, op?: string): void {
    bump(this.byOpAndCode, `${opLabel(op, this.operations)}\u0000${e.code}`);
    if (e.code === ErrorCode.LIMIT_EXCEEDED_ERROR) bump(this.limitCauses, e.cause ?? 'unknown');
  }

  /** Error replies by operation and code, most first. */
  errors(): Array<{ op: string; code: string; count: number }> {
    return [...this.byOpAndCode].map(([key, count]) => {
      const [op = '', code = ''] = key.split('\u0000');
      return { op, code, count };
    }).sort((a, b) => b.count - a.count);
  }

  closed(code: number): void {
    bump(this.closes, closeName(code));
  }
}

function bump<K>(counts: Map<K, number>, key: K): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}
