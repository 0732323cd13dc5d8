// What a verified token may read, from its claims: an admin claim, or a tenant claim naming
// one tenant by its global id (the `id` this API gives it) or by provider and external id (so
// a company can put its own organization id in the token), or a list of such (a reseller's or
// a support tool's token, for several organisations). The claims' names are configured;
// a name may be a dotted path into nested claims, and a name that is itself a claim (a
// namespaced URL, say) is taken as it is first.
import type { JWTPayload } from 'jose';
import { PROVIDERS, type Provider } from '../db/vocabulary.js';

export interface ClaimSettings {
  /** The claim naming the tenant the token may read. */
  tenantClaim: string;
  /** The claim that, when `true`, makes the token an admin's. */
  adminClaim: string;
}

export type TenantRef = { globalId: string } | { provider: Provider; externalId: string; product: string };

export type Claimed = { admin: true } | { tenant: TenantRef } | { tenants: TenantRef[] } | { error: string };

/** Most tenants one token may name. */
export const MAX_TOKEN_TENANTS = 100;

function claimAt(payload: JWTPayload, path: string): unknown {
  if (path in payload) return payload[path];
  let value: unknown = payload;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null || !(part in value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** A provider named in any case ("stytch", "STYTCH"). */
const providerOf = (value: unknown): Provider | undefined =>
  typeof value === 'string' ? PROVIDERS.find((p) => p === value.toUpperCase()) : undefined;

function tenantRef(value: unknown, claim: string): TenantRef | { error: string } {
  const usage = `a Tenant id, "<provider>:<external id>" or {"provider", "externalId", "product"} (provider one of ${PROVIDERS.map((p) => p.toLowerCase()).join(', ')})`;
  if (typeof value === 'string' && value.length > 0 && value.length <= 500) {
    const at = value.indexOf(':');
    if (at < 0) return { globalId: value };
    const provider = providerOf(value.slice(0, at));
    const externalId = value.slice(at + 1);
    if (provider && externalId.length > 0) return { provider, externalId, product: '' };
    return { error: `the token's "${claim}" claim must be ${usage}` };
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { externalId, product } = value as Record<string, unknown>;
    const provider = providerOf((value as Record<string, unknown>).provider);
    if (provider && typeof externalId === 'string' && externalId.length > 0 && (product === undefined || typeof product === 'string')) {
      return { provider, externalId, product: product ?? '' };
    }
  }
  return { error: `the token's "${claim}" claim must be ${usage}` };
}

export function readClaims(payload: JWTPayload, settings: ClaimSettings): Claimed {
  if (claimAt(payload, settings.adminClaim) === true) return { admin: true };
  const tenant = claimAt(payload, settings.tenantClaim);
  if (tenant === undefined || tenant === null) {
    return { error: `the token has no "${settings.tenantClaim}" claim naming the tenant it may read (nor "${settings.adminClaim}": true)` };
  }
  if (Array.isArray(tenant)) {
    if (tenant.length === 0) return { error: `the token's "${settings.tenantClaim}" claim is an empty list: it names no tenant` };
    if (tenant.length > MAX_TOKEN_TENANTS) {
      return { error: `the token's "${settings.tenantClaim}" claim names ${tenant.length} tenants; a token may name at most ${MAX_TOKEN_TENANTS}` };
    }
    const refs: TenantRef[] = [];
    for (const [i, value] of tenant.entries()) {
      const ref = tenantRef(value, `${settings.tenantClaim}[${i}]`);
      if ('error' in ref) return ref;
      refs.push(ref);
    }
    return refs.length === 1 ? { tenant: refs[0]! } : { tenants: refs };
  }
  const ref = tenantRef(tenant, settings.tenantClaim);
  return 'error' in ref ? ref : { tenant: ref };
}
