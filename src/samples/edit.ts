// `npm run trigger -- ... --set field=value`: edits a sample's object before it is signed.
import { sampleObject } from './events.js';

export class SampleEditError extends Error {}

/** `a.b=value`: the path and the value (JSON where it parses as JSON, else the text). */
export function parseSet(text: string): { path: string[]; value: unknown } {
  const at = text.indexOf('=');
  const path = at > 0 ? text.slice(0, at).split('.') : [];
  if (path.length === 0 || path.some((p) => p === '')) throw new SampleEditError(`--set takes <field>=<value>, not ${text}`);
  const raw = text.slice(at + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // Not JSON: the text itself.
  }
  return { path, value };
}

/** Sets each `field=value` on the sample's object (Polis, WorkOS: `data`; Stytch: the body under its type). */
export function applySets(source: 'polis' | 'stytch' | 'workos', event: string, payload: Record<string, unknown>, sets: readonly string[]): void {
  if (sets.length === 0) return;
  const object = sampleObject(source, payload);
  if (!object) throw new SampleEditError(`${source} ${event} carries no object to --set fields of`);
  for (const text of sets) {
    const { path, value } = parseSet(text);
    let target = object;
    for (const key of path.slice(0, -1)) {
      const next = target[key];
      target = (target[key] = typeof next === 'object' && next !== null && !Array.isArray(next) ? next : {}) as Record<string, unknown>;
    }
    target[path.at(-1)!] = value;
  }
}
