// Removes secrets from provider payloads before anything is stored, logged, published or
// served. Matching is by key name and deliberately broad: a missed secret leaks for ever,
// a redacted non-secret costs nothing.
import type { Json } from '../directory/types.js';

export const REDACTED = '[redacted]';

const EXACT = new Set([
  'password',
  'passwd',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'bearertoken',
  'privatekey',
  'apikey',
  'token',
]);

/** clientSecret, client_secret, webhook-secret, secret... */
function isSecretKey(key: string): boolean {
  const normalised = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return normalised.endsWith('secret') || EXACT.has(normalised);
}

export function redact(value: Json): Json {
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretKey(k) && v !== null && v !== '' ? REDACTED : redact(v);
    }
    return out;
  }
  return value;
}
