// What a batch of feed rows is read through on the GraphQL side: one set of loaders, shared by
// every subscriber of the batch, with every object the rows are about loaded in one query per
// kind before anyone asks (the hub's `prepare`, src/live/hub.ts).
import type { Database } from '../../db/open.js';
import type { FeedRow } from '../../live/follower.js';
import { Loaders } from '../loaders.js';

async function prefetch(loaders: Loaders, rows: readonly FeedRow[]): Promise<void> {
  const ids = { TENANT: new Set<string>(), CONNECTION: new Set<string>(), MEMBER: new Set<string>(), GROUP: new Set<string>(), MEMBERSHIP: new Set<string>() };
  for (const row of rows) {
    ids[row.entity].add(row.entityId);
    if (row.tenantId) ids.TENANT.add(row.tenantId);
  }
  const memberships = await loaders.membership.loadMany([...ids.MEMBERSHIP]);
  for (const m of memberships) {
    if (!m || m instanceof Error) continue;
    if (m.memberId) ids.MEMBER.add(m.memberId);
    if (m.groupId) ids.GROUP.add(m.groupId);
  }
  await Promise.all([
    loaders.tenant.loadMany([...ids.TENANT]),
    loaders.connection.loadMany([...ids.CONNECTION]),
    loaders.member.loadMany([...ids.MEMBER]),
    loaders.group.loadMany([...ids.GROUP]),
  ]);
}

/**
 * The hub's `prepare`: loaders for a batch, its objects loaded. `readFrom` says where, asked once
 * the rows have been read: a replica that has replayed as far as the primary had then written
 * (so every payload is at least as new as its change), or the primary.
 */
export const batchLoaders =
  (readFrom: () => Promise<Database>, onError?: (error: unknown) => void) =>
  async (rows: readonly FeedRow[]): Promise<Loaders> => {
    const loaders = new Loaders(await readFrom());
    // A failed prefetch is not fatal: each push group loads (and retries) what it needs.
    await prefetch(loaders, rows).catch((error: unknown) => onError?.(error));
    return loaders;
  };
