// API keys and frontends' tokens behind one Authenticate: a bearer credential shaped like a
// JWT goes to the token path (jwt.ts verifies it, claims.ts reads what it may see, and the
// tenant it names is found here), anything else to the API keys. A token's viewer is scoped
// exactly as a tenant or admin API key is: everything downstream reads only the viewer.
import { createHash } from 'node:crypto';
import { parseAuthorization, type Authenticate, type AuthResult } from './api-keys.js';
import { readClaims, type ClaimSettings, type TenantRef } from './claims.js';
import { JwtRefused, looksLikeJwt, type VerifyJwt } from './jwt.js';

export interface TokenOptions {
  verify: VerifyJwt;
  claims: ClaimSettings;
  /** The tenant's row id, or undefined when this directory has no such tenant. May reject when the database fails. */
  findTenant(ref: TenantRef): Promise<string | undefined>;
}

const describe = (ref: TenantRef) => ('globalId' in ref ? ref.globalId : `${ref.provider}:${ref.externalId}${ref.product ? ` (${ref.product})` : ''}`);

export function withTokens(apiKeys: Authenticate, tokens: TokenOptions): Authenticate {
  const authenticate = async (authorization: string | undefined): Promise<AuthResult> => {
    const parsed = parseAuthorization(authorization);
    if ('error' in parsed || !looksLikeJwt(parsed.token)) return apiKeys(authorization);
    let verified;
    try {
      verified = await tokens.verify(parsed.token);
    } catch (error) {
      if (!(error instanceof JwtRefused)) throw error;
      return { error: error.message, code: error.unavailable ? 'SERVICE_UNAVAILABLE' : 'UNAUTHENTICATED' };
    }
    const { payload, expiresAt } = verified;
    // Names the token in logs: its issuer's subject.
    const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
    const name = `jwt:${sub ?? 'no sub'}`;
    const claimed = readClaims(payload, tokens.claims);
    if ('error' in claimed) return { error: claimed.error, code: 'FORBIDDEN' };
    const expiry = expiresAt ? { expiresAt } : {};
    // Limits count the holder, not the token: every token of one subject of one issuer for the
    // same tenant (or as an admin) shares an allowance; tokens without a subject share their tenant's.
    const limitKey = (scope: string) =>
      `jwt:${createHash('sha256').update(JSON.stringify([payload.iss ?? null, sub ?? null, scope])).digest('base64url')}`;
    if ('admin' in claimed) return { kind: 'admin', keyId: null, name, limitKey: limitKey('admin'), ...expiry };
    const refs = 'tenant' in claimed ? [claimed.tenant] : claimed.tenants;
    const found = await Promise.all(refs.map((ref) => tokens.findTenant(ref)));
    const missing = refs.find((_, i) => found[i] === undefined);
    // The token is refused whole: confined to fewer tenants than it names, a console would show
    // a partial directory as if it were complete.
    if (missing) return { error: `the tenant the token names (${describe(missing)}) is not in this directory`, code: 'FORBIDDEN' };
    const ids = [...new Set(found as string[])].sort();
    if (ids.length === 1) return { kind: 'tenant', keyId: null, name, tenantId: ids[0]!, limitKey: limitKey(ids[0]!), ...expiry };
    return { kind: 'tenant', keyId: null, name, tenantId: ids[0]!, tenantIds: ids, limitKey: limitKey(ids.join(',')), ...expiry };
  };
  return Object.assign(authenticate, { flush: () => apiKeys.flush() });
}
