// The ordering rule that reaches past a change's own object: a directory's delete ends what it
// provisioned (beside decide.ts, which rules on one object at a time).
import { sql } from 'drizzle-orm';
import { connections, groups, members } from '../db/schema.js';
import { resultRows } from '../db/result.js';
import { directoryEnds, rowKey, scopeOf } from './rows.js';
import type { DirectoryChange, EntityKey, Provider } from './types.js';
import { settle, type Work } from './work.js';

/**
 * What a change ends besides its own object: a directory ends with what it provisioned.
 * Identity providers delete a directory's users and groups with it without sending their
 * events (Polis does), so:
 * - the delete of a DIRECTORY connection at version V records V on it and ends every member
 *   and group it provisioned at V;
 * - a member or group of a directory that ended at V is ended at V too, whenever its own
 *   event arrives, so the outcome does not depend on arrival order.
 * Each end goes through the object's own ordering guard: a newer event of it still wins.
 * Memberships are not ended here: a membership of an ended member or group no longer counts
 * when read (graphql/filters.ts), whatever order its events came in.
 */
export async function endedWith(work: Work, change: DirectoryChange): Promise<DirectoryChange[]> {
  const { tx } = work;
  const ending = (entity: 'MEMBER' | 'GROUP', rows: { provider: Provider; scope: string; external_id: string }[], version: string) =>
    rows.map(
      (r) => ({ entity, op: 'delete', key: { provider: r.provider, scope: r.scope, externalId: r.external_id }, version }) as DirectoryChange,
    );

  if (change.entity === 'CONNECTION' && change.op === 'delete' && change.key.kind === 'DIRECTORY') {
    await settle(work);
    const [directory] = resultRows<{ id: string; ended: string }>(
      await tx.execute(sql`
        update ${connections} set ended_at_version = greatest(coalesce(ended_at_version, ''), ${change.version})
        where provider = ${change.key.provider} and scope = ${scopeOf(change.key)} and external_id = ${change.key.externalId}
          and kind = 'DIRECTORY'
        returning id, ended_at_version as ended`),
    );
    if (!directory) return [];
    work.directoryEnds.set(rowKey('CONNECTION', change.key), directory.ended);
    const provisioned = (table: typeof members | typeof groups) =>
      tx.execute(sql`select provider, scope, external_id from ${table} where connection_id = ${directory.id} order by external_id`);
    return [
      ...ending('MEMBER', resultRows(await provisioned(members)), change.version),
      ...ending('GROUP', resultRows(await provisioned(groups)), change.version),
    ];
  }
  const directory = directoryOf(change);
  if (directory) {
    const dk = rowKey('CONNECTION', directory);
    let version = work.directoryEnds.get(dk);
    if (version === undefined) {
      await settle(work);
      version = (await directoryEnds(tx, [directory])).get(dk) ?? null;
      work.directoryEnds.set(dk, version);
    }
    if (version) {
      const key = change.key as EntityKey;
      return ending(change.entity as 'MEMBER' | 'GROUP', [{ provider: key.provider, scope: scopeOf(key), external_id: key.externalId }], version);
    }
  }
  return [];
}

/** The directory a member or group says it came from, if any. */
export function directoryOf(change: DirectoryChange): EntityKey | undefined {
  if ((change.entity === 'MEMBER' || change.entity === 'GROUP') && change.data?.directory) return change.data.directory;
  return undefined;
}
