// What one Polis secret can reach. Polis ids are trusted only within the tenant and product an
// event names, so an event naming one tenant never touches another tenant's object, whatever id
// it carries; and a secret scoped to a tenant (POLIS_SCOPED_SECRETS, a directory's own webhook
// secret) authenticates that tenant's events only: anything beyond is refused 401, nothing stored.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { count, query } from '../support/db.js';
import { gqlData, polisRequest, post, startTestServer, tenantKey, type TestServer } from '../support/server.js';
import { newPolisSecret } from '../support/sign.js';

const globexSecret = newPolisSecret();
const globexDirectorySecret = newPolisSecret();
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    env: { POLIS_SCOPED_SECRETS: `globex/portal=${globexSecret}, globex/portal/dir-globex=${globexDirectorySecret}` },
  });
});
afterAll(() => server?.close());

const userEvent = (event: string, tenant: string, directory: string, id: string, email: string) => ({
  event,
  tenant,
  product: 'portal',
  directory_id: directory,
  data: { id, email, first_name: 'Grace', last_name: tenant, active: true, raw: { userName: email, note: `${tenant} private` } },
});

let clock = Date.now() - 60_000;
async function send(secret: string, payload: unknown) {
  const r = polisRequest(secret, payload, (clock += 1000));
  return post(`${server.url}/webhooks/polis`, r.body, r.headers);
}

const membersNamed = (id: string) =>
  query(
    server.database,
    sql`select t.external_id as tenant, m.email, m.raw from members m join tenants t on t.id = m.tenant_id
        where m.external_id = ${id} order by t.external_id`,
  );

describe(`Polis tenants and secrets (${backend})`, () => {
  it("an event naming one tenant with another tenant's user id creates its own member and leaves the other's alone", async () => {
    expect((await send(server.polisSecret, userEvent('user.created', 'globex', 'dir-globex', 'usr-shared', 'grace@globex.example'))).status).toBe(200);
    // Signed with the global secret (it may write any tenant), naming acme, carrying globex's id.
    const forged = await send(server.polisSecret, userEvent('user.updated', 'acme', 'dir-acme', 'usr-shared', 'mallory@acme.example'));
    expect(forged.status).toBe(200);

    const rows = await membersNamed('usr-shared');
    expect(rows.map((r) => [r.tenant, r.email])).toEqual([
      ['acme', 'mallory@acme.example'],
      ['globex', 'grace@globex.example'],
    ]);
    // acme's key sees acme's member only, and nothing of globex's raw data.
    const [acme] = await query(server.database, sql`select id from tenants where external_id = 'acme'`);
    const key = await tenantKey(server, acme!.id as string, 'acme');
    const seen = await gqlData<{ members: { edges: { node: { email: string; raw: unknown } }[] } }>(
      server,
      `{ members(first: 10) { edges { node { email raw } } } }`,
      {},
      key,
    );
    expect(seen.members.edges.map((e) => e.node.email)).toEqual(['mallory@acme.example']);
    expect(JSON.stringify(seen)).not.toContain('globex private');

    // A delete naming acme does not delete globex's member either.
    await send(server.polisSecret, userEvent('user.deleted', 'acme', 'dir-acme', 'usr-shared', 'mallory@acme.example'));
    const after = await query(
      server.database,
      sql`select t.external_id as tenant, m.deleted_at is null as live from members m join tenants t on t.id = m.tenant_id
          where m.external_id = 'usr-shared' order by t.external_id`,
    );
    expect(after).toEqual([
      { tenant: 'acme', live: false },
      { tenant: 'globex', live: true },
    ]);
  });

  it("a scoped secret writes its own tenant; an event of another tenant, alone or in a batch, is refused 401 and nothing is stored", async () => {
    const ok = await send(globexSecret, userEvent('user.created', 'globex', 'dir-globex', 'usr-g1', 'g1@globex.example'));
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe('applied');

    const deliveries = await count(server.database, 'deliveries');
    const members = await count(server.database, 'members');
    const refused = [
      await send(globexSecret, userEvent('user.created', 'acme', 'dir-acme', 'usr-a1', 'a1@acme.example')),
      await send(globexSecret, { ...userEvent('user.created', 'globex', 'dir-globex', 'usr-g2', 'g2@globex.example'), product: 'billing' }),
      await send(globexSecret, [
        userEvent('user.created', 'globex', 'dir-globex', 'usr-g3', 'g3@globex.example'),
        userEvent('user.created', 'acme', 'dir-acme', 'usr-a2', 'a2@acme.example'),
      ]),
      await send(globexSecret, { event: 'sso.created', tenant: 'acme', product: 'portal', data: { clientID: 'c-acme', name: 'x' } }),
      // Scoped to one directory: another directory of the same tenant is beyond it.
      await send(globexDirectorySecret, userEvent('user.created', 'globex', 'dir-other', 'usr-g4', 'g4@globex.example')),
      // Not an object with a tenant at all.
      await send(globexSecret, [1, 2, 3]),
    ];
    for (const reply of refused) {
      expect(reply.status, JSON.stringify(reply.body)).toBe(401);
      expect(String(reply.body.error)).toMatch(/may not write/);
    }
    expect(await count(server.database, 'deliveries')).toBe(deliveries);
    expect(await count(server.database, 'members')).toBe(members);

    const directoryScoped = await send(globexDirectorySecret, userEvent('user.created', 'globex', 'dir-globex', 'usr-g5', 'g5@globex.example'));
    expect(directoryScoped.status).toBe(200);
  });
});
