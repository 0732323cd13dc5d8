// What a verified token may read, from its claims alone.
import { describe, expect, it } from 'vitest';
import { readClaims } from '../../src/auth/claims.js';

const settings = { tenantClaim: 'dsync_tenant', adminClaim: 'dsync_admin' };

describe('readClaims', () => {
  it('reads the tenant as a Tenant id, "<provider>:<external id>" (any case) or an object', () => {
    expect(readClaims({ dsync_tenant: 'VGVuYW50OmFiYw' }, settings)).toEqual({ tenant: { globalId: 'VGVuYW50OmFiYw' } });
    expect(readClaims({ dsync_tenant: 'stytch:organization-1:x' }, settings)).toEqual({
      tenant: { provider: 'STYTCH', externalId: 'organization-1:x', product: '' },
    });
    expect(readClaims({ dsync_tenant: { provider: 'polis', externalId: 'acme.com', product: 'crm' } }, settings)).toEqual({
      tenant: { provider: 'POLIS', externalId: 'acme.com', product: 'crm' },
    });
  });

  it('reads a list of tenants, each in any of those forms; a list of one is one tenant', () => {
    expect(readClaims({ dsync_tenant: ['stytch:a', 'VGVuYW50OmFiYw', { provider: 'polis', externalId: 'acme.com', product: 'crm' }] }, settings)).toEqual({
      tenants: [
        { provider: 'STYTCH', externalId: 'a', product: '' },
        { globalId: 'VGVuYW50OmFiYw' },
        { provider: 'POLIS', externalId: 'acme.com', product: 'crm' },
      ],
    });
    expect(readClaims({ dsync_tenant: ['stytch:a'] }, settings)).toEqual({ tenant: { provider: 'STYTCH', externalId: 'a', product: '' } });
  });

  it('finds a nested claim by a dotted path, and a namespaced claim by its whole name first', () => {
    expect(readClaims({ org: { dir: 'workos:org_1' } }, { ...settings, tenantClaim: 'org.dir' })).toEqual({
      tenant: { provider: 'WORKOS', externalId: 'org_1', product: '' },
    });
    expect(readClaims({ 'https://example.com/tenant': 'stytch:o' }, { ...settings, tenantClaim: 'https://example.com/tenant' })).toEqual({
      tenant: { provider: 'STYTCH', externalId: 'o', product: '' },
    });
  });

  it('makes an admin only of a claim that is true, nothing like it', () => {
    expect(readClaims({ dsync_admin: true }, settings)).toEqual({ admin: true });
    expect(readClaims({ dsync_admin: 'true' }, settings)).toMatchObject({ error: expect.stringMatching(/no "dsync_tenant" claim/) });
    expect(readClaims({ dsync_admin: 1, dsync_tenant: 'stytch:o' }, settings)).toEqual({ tenant: { provider: 'STYTCH', externalId: 'o', product: '' } });
  });

  it('refuses a claim it cannot read, saying what it wants', () => {
    expect(readClaims({ dsync_tenant: [] }, settings)).toMatchObject({ error: expect.stringMatching(/empty list/) });
    expect(readClaims({ dsync_tenant: Array.from({ length: 101 }, (_, i) => `stytch:o${i}`) }, settings)).toMatchObject({ error: expect.stringMatching(/at most 100/) });
    expect(readClaims({ dsync_tenant: ['stytch:a', 42] }, settings)).toMatchObject({ error: expect.stringMatching(/"dsync_tenant\[1\]" claim must be a Tenant id/) });
    for (const value of [42, '', 'okta:org', ':org', 'stytch:', { provider: 'stytch' }, { provider: 'okta', externalId: 'x' }]) {
      expect(readClaims({ dsync_tenant: value }, settings), JSON.stringify(value)).toMatchObject({ error: expect.stringMatching(/must be a Tenant id/) });
    }
  });
});
