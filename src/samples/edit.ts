// `npm run trigger -- ... --set field=value` / `--add field=value`: edits a sample's object
// before it is signed. --set changes a field the object has: a field it does not have is refused
// with the nearest one's name, since a typo (`nme=x`) would otherwise be sent as a new field and
// be applied without a word. --add puts in a field the sample does not have.
import { sampleObject } from './events.js';

export class SampleEditError extends Error {}

/** `a.b=value`: the path and the value (JSON where it parses as JSON, else the text). */
export function parseSet(text: string, option = '--set'): { path: string[]; value: unknown } {
  const at = text.indexOf('=');
  const path = at > 0 ? text.slice(0, at).split('.') : [];
  if (path.length === 0 || path.some((p) => p === '')) throw new SampleEditError(`${option} takes <field>=<value>, not ${text}`);
  const raw = text.slice(at + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // Not JSON: the text itself.
  }
  return { path, value };
}

/** Edit distance, for "did you mean": field names are short, so the plain table will do. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

function nearest(name: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const candidate of candidates) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d <= Math.max(2, Math.floor(name.length / 3)) && (!best || d < best.d)) best = { name: candidate, d };
  }
  return best?.name;
}

/**
 * Sets each `field=value` on the sample's object (Polis, WorkOS: `data`; Stytch: the body under
 * its type). A --set's first field must be one the object has; below it, a dotted path may name
 * new keys (metadata and custom attributes are open maps). An --add's field may be new.
 */
export function applySets(
  source: 'polis' | 'stytch' | 'workos',
  event: string,
  payload: Record<string, unknown>,
  sets: readonly string[],
  adds: readonly string[] = [],
): void {
  if (sets.length === 0 && adds.length === 0) return;
  const object = sampleObject(source, payload);
  if (!object) throw new SampleEditError(`${source} ${event} carries no object to --set fields of`);
  const fields = Object.keys(object);
  const edits = [...sets.map((text) => ({ text, option: '--set' })), ...adds.map((text) => ({ text, option: '--add' }))];
  for (const { text, option } of edits) {
    const { path, value } = parseSet(text, option);
    const field = path[0]!;
    if (option === '--set' && !Object.hasOwn(object, field)) {
      const guess = nearest(field, fields);
      throw new SampleEditError(
        `the ${source} ${event} sample has no field ${field}${guess ? ` (did you mean ${guess}?)` : ''}. ` +
          `Its fields: ${fields.join(', ')}. To send a field it does not have, use --add ${text}`,
      );
    }
    let target = object;
    for (const key of path.slice(0, -1)) {
      const next = target[key];
      target = (target[key] = typeof next === 'object' && next !== null && !Array.isArray(next) ? next : {}) as Record<string, unknown>;
    }
    target[path.at(-1)!] = value;
  }
}
