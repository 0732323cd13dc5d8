// The subscription example in docs/graphql.md, run as written on Node against a running service:
// a reader pastes it into a script, so it must work there. It runs on a Node without a global
// WebSocket (Node 20; Node 22 with --no-experimental-websocket), where graphql-ws needs the `ws`
// package's, as the example says.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend, onPostgres } from '../support/backend.js';
import { stytchEvent } from '../support/directory.js';
import { ROOT, runScript } from '../support/process.js';
import { sendStytch, startTestServer, type TestServer } from '../support/server.js';

/** The first ```ts block of a page that contains `needle`. */
async function snippet(page: string, needle: string): Promise<string> {
  const text = await readFile(join(ROOT, page), 'utf8');
  const block = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).find((code) => code.includes(needle));
  if (!block) throw new Error(`${page} has no ts example with ${needle}`);
  return block;
}

let server: TestServer;
// Inside node_modules/.cache so that the example's imports resolve as they would in a project.
const dir = join(ROOT, 'node_modules', '.cache', 'dsync-docs-examples');
beforeAll(async () => {
  server = await startTestServer();
  await mkdir(dir, { recursive: true });
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

// The example talks to the service over a socket: the same whatever the database.
describe.skipIf(onPostgres)(`docs/graphql.md's examples (${backend})`, () => {
  it('the graphql-ws subscription example receives a change, as written, on Node', async () => {
    const code = await snippet('docs/graphql.md', "from 'graphql-ws'");
    expect(code).toContain("url: 'ws://127.0.0.1:4000/graphql'");
    const script = join(dir, `subscribe-${randomBytes(4).toString('hex')}.ts`);
    await writeFile(
      script,
      [
        'const apiKey = process.env.API_KEY;',
        code.replace('ws://127.0.0.1:4000/graphql', `${server.url.replace('http', 'ws')}/graphql`),
        // What the reader's `/* ... */` would do with the change: here, say it and stop.
        "setInterval(() => { if (last) { console.log(`cursor ${last}`); process.exit(0); } }, 20);",
        "setTimeout(() => { console.error('no change arrived'); process.exit(1); }, 60_000);",
      ].join('\n'),
    );
    const ran = runScript(script, [], { API_KEY: server.adminKey, NODE_OPTIONS: '--no-experimental-websocket' });
    // The subscription starts live; send changes until one reaches it.
    let done = false;
    void ran.then(() => (done = true));
    const org = `organization-test-docs-${randomBytes(4).toString('hex')}`;
    for (let i = 0; !done && i < 600; i++) {
      await sendStytch(server, stytchEvent('member', 'CREATE', `member-test-${org}-${i}`, { member_id: `member-test-${org}-${i}`, organization_id: org, email_address: `${i}@docs.example`, status: 'active' }));
      await new Promise((r) => setTimeout(r, 100));
    }
    const result = await ran;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^cursor \S+\n$/);
  });
});
