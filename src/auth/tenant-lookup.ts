// Finds the tenant a token names, by global id or by provider and external id, remembering
// what it found for a minute: a frontend's every request carries the same claim. Tenants are
// never deleted (only marked), so a remembered id cannot go stale; one not found is asked
// again next time (its first webhook may be on its way).
import { and, eq } from 'drizzle-orm';
import type { Database } from '../db/open.js';
import { tenants } from '../db/schema.js';
import type { TenantRef } from './claims.js';

const REMEMBER_MS = 60_000;
const MAX_REMEMBERED = 10_000;

export function tenantLookup(db: Database, parseTenantId: (globalId: string) => string | undefined): (ref: TenantRef) => Promise<string | undefined> {
  const found = new Map<string, { id: string; at: number }>();
  return async (ref) => {
    const key = JSON.stringify(ref);
    const hit = found.get(key);
    if (hit && Date.now() - hit.at < REMEMBER_MS) return hit.id;
    let where;
    if ('globalId' in ref) {
      const id = parseTenantId(ref.globalId);
      if (!id) return undefined;
      where = eq(tenants.id, id);
    } else {
      where = and(eq(tenants.provider, ref.provider), eq(tenants.externalId, ref.externalId), eq(tenants.product, ref.product));
    }
    const [row] = await db.select({ id: tenants.id }).from(tenants).where(where).limit(1);
    if (!row) return undefined;
    if (found.size >= MAX_REMEMBERED) found.clear();
    found.set(key, { id: row.id, at: Date.now() });
    return row.id;
  };
}
