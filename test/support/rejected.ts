// For tests of quarantine and replay: a Polis reader with a known defect (items carrying a
// marker come out rejected, as a reader bug would leave them), and the directory of one test
// namespace as rows, with the database's own ids replaced by provider ids, to compare databases.
import { sql } from 'drizzle-orm';
import type { Delivery } from '../../src/directory/types.js';
import type { SourceAdapter } from '../../src/sources/types.js';
import { query } from './db.js';
import type { TestServer } from './server.js';

export const MARK = 'x_test_unreadable';
export const isMarked = (item: unknown) => (item as Record<string, unknown> | null)?.[MARK] === true;

/** The given Polis reader, except that marked items come out rejected, as a bug would make them. */
function brokenReader(polis: SourceAdapter): SourceAdapter {
  return {
    ...polis,
    parse(payload, verified): Delivery {
      const delivery = polis.parse(payload, verified);
      const items: unknown[] = Array.isArray(payload) ? payload : [payload];
      return {
        ...delivery,
        events: delivery.events.map((event, i) =>
          isMarked(items[i]) ? { type: event.type, changes: [], rejected: 'the reader under test cannot read this item' } : event,
        ),
      };
    },
  };
}

/** The service's readers, the Polis one broken as above (for `wrapSources`). */
export const brokenPolisReader = (sources: SourceAdapter[]) => sources.map((s) => (s.name === 'polis' ? brokenReader(s) : s));

/** The directory of one namespace, with internal ids replaced by provider ids. */
export async function directoryState(server: Pick<TestServer, 'database'>, ns: string, withVersions: boolean): Promise<unknown> {
  const like = `${ns}%`;
  const v = (alias: string) =>
    withVersions ? sql.raw(`, ${alias}.live_version, ${alias}.data_version`) : sql.raw('');
  const tables = {
    connections: await query(
      server.database,
      sql`select c.external_id, t.external_id as tenant, c.kind, c.status, c.name, c.raw, c.deleted_at, c.data_hash,
                 c.ended_at_version is not null as ended ${v('c')} ${withVersions ? sql.raw(', c.ended_at_version') : sql.raw('')}
          from connections c left join tenants t on t.id = c.tenant_id where c.external_id like ${like} order by c.external_id`,
    ),
    members: await query(
      server.database,
      sql`select m.external_id, d.external_id as directory, m.email, m.name, m.status, m.roles, m.raw, m.deleted_at,
                 m.data_hash, m.data_from_snapshot ${v('m')}
          from members m left join connections d on d.id = m.connection_id where m.external_id like ${like} order by m.external_id`,
    ),
    groups: await query(
      server.database,
      sql`select g.external_id, d.external_id as directory, g.name, g.raw, g.deleted_at, g.data_hash, g.data_from_snapshot ${v('g')}
          from groups g left join connections d on d.id = g.connection_id where g.external_id like ${like} order by g.external_id`,
    ),
    memberships: await query(
      server.database,
      sql`select x.external_id, g.external_id as grp, m.external_id as member, x.deleted_at ${v('x')}
          from memberships x left join groups g on g.id = x.group_id left join members m on m.id = x.member_id
          where x.external_id like ${like} order by x.external_id`,
    ),
  };
  return JSON.parse(JSON.stringify(tables));
}


/**
 * The change feed of one namespace as (entity, provider id, action, when it happened), sorted:
 * equal between two databases when the same changes were applied, each as often.
 */
export async function feedOf(server: Pick<TestServer, 'database'>, ns: string): Promise<string[]> {
  const rows = await query(
    server.database,
    sql`select c.entity, coalesce(t.external_id, k.external_id, m.external_id, g.external_id, x.external_id) as external_id,
               c.action, c.occurred_at
        from changes c
        left join tenants t on c.entity = 'TENANT' and t.id = c.entity_id
        left join connections k on c.entity = 'CONNECTION' and k.id = c.entity_id
        left join members m on c.entity = 'MEMBER' and m.id = c.entity_id
        left join groups g on c.entity = 'GROUP' and g.id = c.entity_id
        left join memberships x on c.entity = 'MEMBERSHIP' and x.id = c.entity_id`,
  );
  return rows
    .filter((r) => String(r.external_id).startsWith(ns))
    .map((r) => `${String(r.entity)} ${String(r.external_id)} ${String(r.action)} ${new Date(r.occurred_at as string).toISOString()}`)
    .sort();
}
