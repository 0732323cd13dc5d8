// `npm run roles` as a real process on the embedded database the service used (stopped first:
// PGlite allows one process): it sets what the mutations set, and the service then answers by it
// and, as it starts, feeds the member whose values that moved.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backend, onPostgres } from '../support/backend.js';
import { eventually } from '../support/live.js';
import { runScript, seededDataDir, spawnService } from '../support/process.js';
import { polisRequest, post } from '../support/server.js';

describe.skipIf(onPostgres)(`npm run roles (${backend})`, () => {
  it('shows, sets and maps a tenant, and explains bad arguments with exit code 2', async () => {
    const dataDir = await seededDataDir('dsync-roles-');
    const env = { DATA_DIR: dataDir, NODE_ENV: 'development' };
    const service = await spawnService(env);
    const { polis, adminApiKey: admin } = JSON.parse(await readFile(join(dataDir, 'local-secrets.json'), 'utf8')) as { polis: string; adminApiKey: string };
    const user = { event: 'group.user_added', tenant: 'acme', product: 'portal', directory_id: 'dir-1',
      data: { id: 'u-1', first_name: 'Ada', email: 'ada@acme.example', active: true, raw: { title: 'Analyst' }, group: { id: 'g-1', name: 'Engineering', raw: {} } } };
    const sent = polisRequest(polis, user);
    expect((await post(`${service.url}/webhooks/polis`, sent.body, sent.headers)).body.status).toBe('applied');
    const tenantQuery = JSON.stringify({ query: '{ tenants { edges { node { id } } } }' });
    const reply = await fetch(`${service.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body: tenantQuery });
    const tenantId = ((await reply.json()) as { data: { tenants: { edges: { node: { id: string } }[] } } }).data.tenants.edges[0]!.node.id;
    expect(await service.stop()).toBe(0);

    const shown = await runScript('src/cli/roles.ts', ['show', '--tenant', tenantId], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('role rules: none');
    expect(shown.stdout).toContain('attribute mappings: the POLIS defaults');

    const set = await runScript('src/cli/roles.ts', ['set', '--tenant', tenantId, '--rule', 'Engineering=admin:5', '--rule', 'g-2=editor', '--default', 'viewer'], env);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('2\tg-2 -> editor');
    expect(set.stdout).toContain('5\tEngineering -> admin');
    expect(set.stdout).toContain('default role: viewer');
    const mapped = await runScript('src/cli/roles.ts', ['map', '--tenant', tenantId, '--attribute', 'title=raw.title'], env);
    expect(mapped.code, mapped.stderr).toBe(0);
    expect(mapped.stdout).toContain('attribute mappings:\n  title\traw.title');

    for (const [args, message] of [
      [['set', '--tenant', tenantId, '--rule', 'no-role='], /expected <group>=<role>/],
      [['map', '--tenant', tenantId, '--attribute', 'x=a..b'], /no empty segments/],
      [['show'], /--tenant <tenant id> is required/],
      [['show', '--tenant', 'nope'], /neither a tenant id/],
      [['grant', '--tenant', tenantId], /unknown command grant/],
    ] as const) {
      const bad = await runScript('src/cli/roles.ts', [...args], env);
      expect(bad.code, bad.stdout).toBe(2);
      expect(bad.stderr).toMatch(message);
    }

    // The service answers by what the command set.
    const again = await spawnService(env);
    const answer = await fetch(`${again.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ query: '{ members { edges { node { appRole appRoles attributes } } } }' }),
    });
    expect(((await answer.json()) as { data: unknown }).data).toEqual({ members: { edges: [{ node: { appRole: 'admin', appRoles: ['admin'], attributes: { title: 'Analyst' } } }] } });
    // As it starts, it works out the tenant's members again and feeds the one whose values moved, once.
    expect(set.stdout).toContain('pushed to memberChanged subscribers by the service, when it next starts');
    const fed = async () => {
      const changes = await fetch(`${again.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({ query: '{ changes(first: 50) { edges { node { entity action } } } }' }),
      });
      return ((await changes.json()) as { data: { changes: { edges: { node: { entity: string; action: string } }[] } } }).data.changes.edges.map((e) => `${e.node.entity} ${e.node.action}`);
    };
    await eventually(async () => (await fed()).at(-1) === 'MEMBER UPDATED', 30_000, 'the recompute to feed the member');
    expect((await fed()).filter((c) => c === 'MEMBER UPDATED')).toHaveLength(1);
    expect(await again.stop()).toBe(0);
  });
});
