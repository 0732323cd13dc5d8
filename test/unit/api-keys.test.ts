// The parts of API keys that need no database: the key format, its hash, reading the
// Authorization header, and tenant references as the CLI takes them.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  API_KEY_PATTERN,
  AUTH_ERRORS,
  generateApiKey,
  hashApiKey,
  parseAuthorization,
  tenantIdFromRef,
} from '../../src/auth/api-keys.js';

describe('API key format', () => {
  it('is dsk_ and 32 random bytes in base64url', () => {
    const keys = Array.from({ length: 200 }, generateApiKey);
    for (const key of keys) {
      expect(key).toMatch(API_KEY_PATTERN);
      expect(key).toHaveLength(4 + 43);
      expect(Buffer.from(key.slice(4), 'base64url')).toHaveLength(32);
    }
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('is hashed as SHA-256 hex of the whole key', () => {
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const key = generateApiKey();
    expect(hashApiKey(key)).toBe(createHash('sha256').update(key).digest('hex'));
    expect(hashApiKey(key)).not.toBe(hashApiKey(`${key.slice(0, -1)}x`));
  });
});

describe('reading the Authorization header', () => {
  const key = generateApiKey();

  it.each([
    ['Bearer KEY', 'plain'],
    ['bearer KEY', 'lower-case scheme'],
    ['BEARER KEY', 'upper-case scheme'],
    ['  Bearer    KEY  ', 'extra spaces'],
    ['Bearer\tKEY', 'a tab'],
  ])('takes %j (%s)', (header) => {
    expect(parseAuthorization(header.replace('KEY', key))).toEqual({ token: key });
  });

  it.each([
    [undefined, AUTH_ERRORS.missing],
    ['', AUTH_ERRORS.missing],
    ['   ', AUTH_ERRORS.missing],
    ['Basic dXNlcjpwYXNz', AUTH_ERRORS.scheme],
    [`Token ${key}`, AUTH_ERRORS.scheme],
    [key, AUTH_ERRORS.scheme],
    ['Bearer', AUTH_ERRORS.empty],
    ['Bearer    ', AUTH_ERRORS.empty],
    [`Bearer ${key} extra`, AUTH_ERRORS.malformed],
  ])('refuses %j', (header, error) => {
    expect(parseAuthorization(header)).toEqual({ error });
  });

  it('says how to send a key when there is none', () => {
    expect(AUTH_ERRORS.missing).toBe('missing Authorization header: send "Authorization: Bearer <api key>"');
  });
});

describe('tenant references', () => {
  const uuid = '0b5e7f0c-3a3e-4c1e-9c53-0b6a1d2f9e10';
  const globalId = (text: string) => Buffer.from(text).toString('base64url');

  it('takes a tenants.id, in any case', () => {
    expect(tenantIdFromRef(uuid)).toBe(uuid);
    expect(tenantIdFromRef(` ${uuid.toUpperCase()} `)).toBe(uuid);
  });

  it("takes a Tenant's GraphQL global id", () => {
    expect(tenantIdFromRef(globalId(`Tenant:${uuid}`))).toBe(uuid);
  });

  it.each([
    ['another type', globalId(`Member:${uuid}`)],
    ['no uuid inside', globalId('Tenant:42')],
    ['trailing text', globalId(`Tenant:${uuid}:x`)],
    ['not base64url', 'Tenant:abc'],
    ['a truncated uuid', uuid.slice(0, 30)],
    ['empty', ''],
  ])('refuses %s', (_, ref) => {
    expect(tenantIdFromRef(ref)).toBeUndefined();
  });
});
