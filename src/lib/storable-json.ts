// What a parsed webhook body must be before anything touches it: JSON that Postgres can store
// as jsonb and that our own code can walk. JSON.parse accepts all of these; each would
// otherwise fail later as a 500 (jsonb refuses NUL and unpaired surrogates, recursive code
// overflows the stack on deep nesting) or worse (`__proto__` changes an object's prototype
// when copied by assignment).

/** Far deeper than any provider's event (a SCIM user in a Polis event is about 6 levels). */
export const MAX_JSON_DEPTH = 64;

import type { Json } from './json.js';
import { truncate } from './truncate.js';

const NUL = '\u0000';
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a text cannot be stored in a text or jsonb column (NUL, half a surrogate pair), or undefined. */
export function textProblem(text: string): string | undefined {
  if (text.includes(NUL)) return 'contains a NUL character (\\u0000), which cannot be stored';
  if (UNPAIRED_SURROGATE.test(text)) return 'contains an unpaired UTF-16 surrogate, which is not valid Unicode';
  return undefined;
}

/** `data.raw["odd key"][2]`: keys that are not plain names are quoted (and cut short). */
function pathOf(path: readonly (string | number)[]): string {
  if (path.length === 0) return 'body';
  return path
    .map((p, i) => {
      if (typeof p === 'number') return `[${p}]`;
      if (/^[A-Za-z_$][\w$]*$/.test(p)) return i === 0 ? p : `.${p}`;
      return `[${JSON.stringify(p.length > 40 ? `${truncate(p, 40)}...` : p)}]`;
    })
    .join('');
}

/** Why the value cannot be stored, naming where; undefined when it can. Never recurses. */
export function unstorable(value: unknown): string | undefined {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    if (typeof current === 'string') {
      const problem = textProblem(current);
      if (problem) return `${pathOf(path)}: ${problem}`;
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (path.length >= MAX_JSON_DEPTH) return `${pathOf(path)}: nested deeper than ${MAX_JSON_DEPTH} levels`;
    if (Array.isArray(current)) {
      current.forEach((item, i) => stack.push({ value: item, path: [...path, i] }));
      continue;
    }
    for (const [key, item] of Object.entries(current)) {
      if (key === '__proto__') return `${pathOf(path)}: the key __proto__ is not allowed`;
      const problem = textProblem(key);
      if (problem) return `${pathOf(path)}: a key ${problem}`;
      stack.push({ value: item, path: [...path, key] });
    }
  }
  return undefined;
}

const REPLACEMENT = '\uFFFD';
const UNPAIRED_SURROGATES = new RegExp(UNPAIRED_SURROGATE.source, 'g');
const fixText = (text: string) => text.replaceAll(NUL, REPLACEMENT).replace(UNPAIRED_SURROGATES, REPLACEMENT);

/**
 * A copy of an unstorable value that can be stored, for keeping a delivery that is refused
 * because of it: NUL characters and unpaired surrogates become U+FFFD, a `__proto__` key is
 * kept as an own key, and whatever is nested deeper than MAX_JSON_DEPTH is replaced by a note.
 * Never recurses.
 */
export function storableCopy(value: unknown): Json {
  const root: { value?: Json } = {};
  const stack: { value: unknown; depth: number; assign: (v: Json) => void }[] = [
    { value, depth: 0, assign: (v) => (root.value = v) },
  ];
  while (stack.length > 0) {
    const { value: current, depth, assign } = stack.pop()!;
    if (typeof current === 'string') assign(fixText(current));
    else if (current === null || typeof current !== 'object') assign((current ?? null) as Json);
    else if (depth >= MAX_JSON_DEPTH) assign(`[nested deeper than ${MAX_JSON_DEPTH} levels: not kept]`);
    else if (Array.isArray(current)) {
      const copy: Json[] = new Array<Json>(current.length).fill(null);
      assign(copy);
      current.forEach((item, i) => stack.push({ value: item, depth: depth + 1, assign: (v) => (copy[i] = v) }));
    } else {
      const copy: { [key: string]: Json } = {};
      assign(copy);
      for (const [key, item] of Object.entries(current)) {
        const name = fixText(key);
        // defineProperty: a `__proto__` key stays an own key, never the copy's prototype.
        const slot = (v: Json) => void Object.defineProperty(copy, name, { value: v, enumerable: true, writable: true, configurable: true });
        slot(null);
        stack.push({ value: item, depth: depth + 1, assign: slot });
      }
    }
  }
  return root.value ?? null;
}
