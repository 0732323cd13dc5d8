// Attributes an app reads from a member's provider object (Tenant.attributeMappings): a name
// and a dotted path into the object as stored, secrets already removed (so a mapping can never
// reach what redaction took out). A segment may be a SCIM schema URN taken whole, dots and all:
// in `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.department` the URN runs to the
// name after its last colon (`…:2.0:User`), then `department`. A number indexes a list.
import type { AttributeMapping } from '../db/vocabulary.js';
import type { Json } from '../lib/json.js';

export type { AttributeMapping };

/** The segments of a path, or why it is not one. */
export function pathSegments(path: string): string[] | { error: string } {
  const empty = { error: 'a path has no empty segments (two dots, or a dot at an end)' };
  if (path.startsWith('.') || path.endsWith('.')) return empty;
  const segments: string[] = [];
  let rest = path;
  while (rest.length > 0) {
    let segment: string;
    if (rest.startsWith('urn:')) {
      const lastColon = rest.lastIndexOf(':');
      const dot = rest.indexOf('.', lastColon);
      segment = dot === -1 ? rest : rest.slice(0, dot);
      rest = dot === -1 ? '' : rest.slice(dot + 1);
    } else {
      const dot = rest.indexOf('.');
      segment = dot === -1 ? rest : rest.slice(0, dot);
      rest = dot === -1 ? '' : rest.slice(dot + 1);
    }
    if (segment === '') return empty;
    segments.push(segment);
  }
  if (segments.length === 0) return { error: 'a path names at least one field' };
  return segments;
}

/** The value at `segments` in `object`, or undefined where the path leads nowhere. */
export function valueAt(object: Json | null, segments: readonly string[]): Json | undefined {
  let current: Json | undefined = object ?? undefined;
  for (const segment of segments) {
    if (current === undefined || current === null || typeof current !== 'object') return undefined;
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(segment)) return undefined;
      current = current[Number(segment)];
    } else {
      current = Object.hasOwn(current, segment) ? current[segment] : undefined;
    }
  }
  return current;
}

/** `{ name: value }` for each mapping that finds a value (null counts as none), in mapping order. */
export function attributesOf(mappings: readonly AttributeMapping[], raw: Json | null): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const { name, path } of mappings) {
    const segments = pathSegments(path);
    if ('error' in segments || Object.hasOwn(out, name)) continue;
    const value = valueAt(raw, segments);
    if (value !== undefined && value !== null) out[name] = value;
  }
  return out;
}
