// Removes secrets from provider payloads before anything is stored, logged, published or
// served. Deliberately broad: a missed secret leaks for ever, a redacted non-secret costs
// nothing. Three nets, each catching what the others miss:
// 1. key names (`client_secret`, `aws_secret_access_key`, `session_jwt`, `recovery_codes`...),
//    matched after lower-casing and dropping everything but letters and digits;
// 2. name/value pairs, `{name: "password", value: "..."}` (SCIM custom attributes, metadata
//    lists), where the name is the key;
// 3. value shapes, whatever the key: private-key PEM blocks, JWTs, and the prefixed tokens
//    secret scanners know (`sk_live_`, `whsec_`, `ghp_`, `AKIA`...); keys of that shape too.
// The name lists follow what secret scanners (gitleaks, detect-secrets) treat as secret
// keywords, narrowed to names whose value is the secret itself.
import type { Json } from './json.js';

export const REDACTED = '[redacted]';

/** Names containing one of these are secrets wherever the word sits (`password_hash`). */
const CONTAINS = [
  'secret',
  'password',
  'passwd',
  'passphrase',
  'passcode',
  'privatekey',
  'apikey',
  'accesskey',
  'credential',
  'signingkey',
  'encryptionkey',
  'hmackey',
  'recoverycode',
  'backupcode',
  'mfaseed',
  'totpseed',
];

/**
 * Names ending in one of these are secrets (`access_token`, `session_jwt`, `x-auth-token`);
 * endings only, because the words also start harmless names (`token_endpoint`, `jwt_issuer`).
 */
const ENDINGS = ['token', 'tokens', 'jwt', 'jwts', 'otp', 'totp', 'authorization', 'cookie', 'cookies', 'bearer', 'pin'];

/** Names that are secrets only as a whole (`pwd`, but not `pwd_changed_at`). */
const WHOLE = new Set(['pwd', 'pass']);

/**
 * Names about a secret rather than holding it: its id, when it was set or expires, its last
 * four digits, where to send it (`member_password_id`, `bearer_token_expires_at`,
 * `token_url`). Words that merely contain a secret word (`secretary`) are read without it.
 */
const ABOUT = ['id', 'ids', 'at', 'lastfour', 'url', 'uri', 'endpoint', 'type', 'length', 'count', 'policy', 'format'];
const INNOCENT_WORDS = /secretar(y|ies)/g;

const normalise = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '').replace(INNOCENT_WORDS, '');

export function isSecretName(name: string): boolean {
  // A SCIM schema URN names a namespace of attributes (`urn:...:extension:credentials:2.0:User`),
  // not a value: the attributes inside are judged by their own names.
  if (/^urn:/i.test(name)) return false;
  const n = normalise(name);
  if (WHOLE.has(n)) return true;
  const secretWord = CONTAINS.some((word) => n.includes(word)) || ENDINGS.some((end) => n.endsWith(end));
  if (!secretWord) return false;
  // `password_id` is about a password; `password_hash` and `token` hold one.
  return !ABOUT.some((end) => n.endsWith(end) && !ENDINGS.some((secretEnd) => n.endsWith(secretEnd)));
}

/** Values that are secrets whatever they are called. */
const SECRET_SHAPES: RegExp[] = [
  // A private key in PEM (certificates are public and stay).
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----/,
  // A JWT (header and payload are base64url JSON objects).
  /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/,
  // Stripe-style live and test keys, restricted keys, Svix/Standard Webhooks secrets.
  /\b(sk|rk)_(live|test)_[A-Za-z0-9]{8,}/,
  /\bwhsec_[A-Za-z0-9+/=]{16,}/,
  // GitHub, GitLab, Slack, npm, SendGrid, Google API keys, AWS access key ids.
  /\b(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}/,
  /\bgithub_pat_[A-Za-z0-9_]{20,}/,
  /\bglpat-[A-Za-z0-9_-]{20,}/,
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/,
  /\bnpm_[A-Za-z0-9]{30,}/,
  /\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/,
  /\bAIza[A-Za-z0-9_-]{35}/,
  /\b(AKIA|ASIA)[A-Z0-9]{16}\b/,
  // A credential written out as an HTTP authorization value.
  /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{16,}/,
];

export const looksSecret = (value: string): boolean => SECRET_SHAPES.some((shape) => shape.test(value));

/** Fields that name a pair's value: `{name: "password", value: "..."}`. */
const PAIR_NAMES = ['name', 'key', 'type', 'attribute', 'field', 'label'];
const PAIR_VALUES = ['value', 'val', 'values'];

function isSecretPair(object: Record<string, Json>): boolean {
  return PAIR_NAMES.some((field) => {
    const name = object[field];
    return typeof name === 'string' && isSecretName(name);
  });
}

const hide = (value: Json): Json => (value === null || value === '' ? value : REDACTED);

export function redact(value: Json): Json {
  if (typeof value === 'string') return looksSecret(value) ? REDACTED : value;
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    const pair = isSecretPair(value);
    let hiddenKeys = 0;
    // fromEntries defines own properties: a `__proto__` key stays a key, never a prototype.
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        // A secret used as a key (a map from tokens to whatever): the key goes, numbered so
        // that two of them stay two entries.
        const key = looksSecret(k) ? `${REDACTED}${++hiddenKeys > 1 ? ` ${hiddenKeys}` : ''}` : k;
        if (isSecretName(k) || (pair && PAIR_VALUES.includes(k))) return [key, hide(v)];
        return [key, redact(v)];
      }),
    ) as Json;
  }
  return value;
}
