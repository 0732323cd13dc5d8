// Removes secrets from provider payloads before anything is stored, logged, published or
// served. Matching is by key name and deliberately broad: a missed secret leaks for ever,
// a redacted non-secret costs nothing.
import type { Json } from '../directory/types.js';

export const REDACTED = '[redacted]';

/**
 * Name endings that mark a secret: clientSecret, client_secrets, next_bearer_token (Stytch's
 * SCIM token during rotation), signing_private_key, auth_token, api_keys... Endings, not whole
 * names, because providers and customers' metadata prefix them freely.
 */
const SUFFIXES = [
  'secret',
  'secrets',
  'secretkey',
  'password',
  'passwords',
  'passwd',
  'token',
  'tokens',
  'privatekey',
  'privatekeys',
  'apikey',
  'apikeys',
];

function isSecretKey(key: string): boolean {
  const normalised = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SUFFIXES.some((suffix) => normalised.endsWith(suffix));
}

export function redact(value: Json): Json {
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    // fromEntries defines own properties: a `__proto__` key stays a key, never a prototype.
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, isSecretKey(k) && v !== null && v !== '' ? REDACTED : redact(v)]),
    ) as Json;
  }
  return value;
}
