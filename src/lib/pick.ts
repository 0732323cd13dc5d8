// Keeps only the named parts of a JSON value: an allow-list, so a field a provider adds tomorrow
// stays out until someone decides it belongs.

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** `true` keeps the value as it is; a nested shape keeps that much of an object (or of each object in an array). */
export type Shape = { readonly [key: string]: true | Shape };

export function pick(value: Json, shape: Shape): Json {
  if (Array.isArray(value)) {
    const kept: Json[] = [];
    for (const item of value) {
      if (item !== null && typeof item === 'object') kept.push(pick(item, shape));
    }
    return kept;
  }
  if (value === null || typeof value !== 'object') return null;
  const out: { [key: string]: Json } = {};
  for (const [key, rule] of Object.entries(shape)) {
    if (!Object.hasOwn(value, key)) continue;
    const field = value[key];
    if (field === undefined) continue;
    if (rule === true) out[key] = field;
    else if (field !== null && typeof field === 'object') out[key] = pick(field, rule);
  }
  return out;
}
