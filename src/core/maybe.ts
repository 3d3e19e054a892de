/** A value now, or later (an engine with network round trips). Engines answer synchronously when
 * they can: the reply then leaves inside the transport's callback, coalesced with other writes. */
export type Maybe<T> = T | Promise<T>;

/** Applies `f` to a value that may still be a promise, staying synchronous when it is not. */
export function map<T, R>(value: Maybe<T>, f: (value: T) => R): Maybe<R> {
  return value instanceof Promise ? value.then(f) : f(value);
}
