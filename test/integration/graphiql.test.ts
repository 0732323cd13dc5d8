// GraphiQL at /graphiql: its files over plain HTTP, then the page in a real headless Chromium
// against the real server, driven the way a person would (paste a key, press run), while
// every request the browser makes is recorded to prove none leaves this machine.
import { randomBytes } from 'node:crypto';
import type { Browser, BrowserContext, Page } from '../oracles/chromium.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { onPostgres } from '../support/backend.js';
import { findChromium, launchChromium, nonLocal, recordingContext } from '../support/browser.js';
import { stytchSeed, uniquify } from '../support/fixtures.js';
import { sendStytch, startTestServer, type TestServer } from '../support/server.js';
import { hmacSignIn } from '../support/sign.js';

const chromiumPath = findChromium();
const signIn = hmacSignIn();
if (!chromiumPath) {
  console.log('GraphiQL browser tests skipped: no Chromium (set TEST_CHROMIUM or apt-get install chromium)');
}

describe('GraphiQL files', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('serves the page with a Content-Security-Policy and no referrer', async () => {
    const response = await fetch(`${server.url}/graphiql`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const host = new URL(server.url).host;
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain(`connect-src 'self' ws://${host} wss://${host}`);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await response.text()).toContain('<div id="graphiql">');
  });

  it('serves the page at /graphiql/ as well', async () => {
    const response = await fetch(`${server.url}/graphiql/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await response.text()).toContain('<div id="graphiql">');
  });

  it.each([
    ['graphiql.min.js', 'text/javascript; charset=utf-8'],
    ['graphiql.min.css', 'text/css; charset=utf-8'],
    ['react.production.min.js', 'text/javascript; charset=utf-8'],
    ['react-dom.production.min.js', 'text/javascript; charset=utf-8'],
    ['init.js', 'text/javascript; charset=utf-8'],
    ['page.css', 'text/css; charset=utf-8'],
  ])('serves %s as %s, cacheable', async (name, contentType) => {
    const response = await fetch(`${server.url}/graphiql/assets/${name}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(contentType);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('cache-control')).toContain('max-age=');
    expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(100);
  });

  it.each([
    'nope.js',
    'graphiql.min.js.map',
    '..%2F..%2Fpackage.json',
    '..%2Fgraphiql.ts',
    'constructor',
    '__proto__',
  ])('answers 404 for an asset not on the list: %s', async (name) => {
    const response = await fetch(`${server.url}/graphiql/assets/${name}`);
    // Read to the end: an unread body keeps the connection busy and the server from closing.
    await response.arrayBuffer();
    expect(response.status).toBe(404);
  });
});

interface Recorded {
  /** Every URL the browser requested, WebSockets included. */
  urls: string[];
  /** Page errors and Content-Security-Policy violations. */
  problems: string[];
}


function watch(page: Page, recorded: Recorded): void {
  page.on('websocket', (ws) => recorded.urls.push(ws.url()));
  page.on('pageerror', (error) => recorded.problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.text().startsWith('CSP violation')) recorded.problems.push(message.text());
  });
}


const headersEditor = (page: Page) => page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror');

/** The full text of a CodeMirror editor (it renders only the lines in view). */
const editorValue = (page: Page, selector: string) =>
  page.evaluate<string>(`document.querySelector(${JSON.stringify(`${selector} .CodeMirror`)}).CodeMirror.getValue()`);

const resultText = (page: Page) => editorValue(page, '.result-window');

async function openGraphiql(page: Page, server: TestServer): Promise<void> {
  const response = await page.goto(`${server.url}/graphiql`);
  expect(response?.status()).toBe(200);
  await page.locator('.graphiql-container').waitFor();
  await page.locator('.graphiql-query-editor .CodeMirror').waitFor();
}

/** Replaces the headers editor's content the way a person pastes: select all, paste. */
async function pasteHeaders(page: Page, text: string): Promise<void> {
  await page.locator('.graphiql-editor-tools').getByRole('button', { name: 'Headers' }).click();
  await headersEditor(page).click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(text);
}

/** Presses run and waits for the answer to the example query. */
async function runDirectoryQuery(page: Page): Promise<{ status: number; body: unknown }> {
  const answered = page.waitForResponse(
    (r) => r.url().endsWith('/graphql') && r.request().postDataJSON()?.operationName === 'Directory',
  );
  await page.locator('.graphiql-execute-button').click();
  const response = await answered;
  return { status: response.status(), body: await response.json() };
}

// The page and what the browser does with it are the same whatever the database behind the
// service: on the Postgres pass this has nothing to add.
describe.runIf(chromiumPath && !onPostgres)('GraphiQL in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let recorded: Recorded;
  const email = `graphiql-${randomBytes(4).toString('hex')}@example.com`;

  beforeAll(async () => {
    server = await startTestServer({ env: signIn.env });
    browser = await launchChromium(chromiumPath ?? '');
    // A member that exists only because a signed Stytch webhook said so.
    const created = stytchSeed.find((f) => f.title === 'Member created via dashboard');
    if (!created) throw new Error('fixture "Member created via dashboard" is missing');
    const event = uniquify(created.event) as { member: { email_address: string } };
    event.member.email_address = email;
    const reply = await sendStytch(server, event);
    expect(reply.status).toBe(200);
  });
  afterAll(async () => {
    // The browser first: its open keep-alive connections would hold the server's close.
    await browser?.close();
    await server?.close();
  });

  beforeEach(async () => {
    recorded = { urls: [], problems: [] };
    context = await recordingContext(browser, recorded.urls);
    page = await context.newPage();
    watch(page, recorded);
  });
  afterEach(async () => {
    await context.close();
    expect(recorded.urls.length).toBeGreaterThan(0);
    const elsewhere = nonLocal(recorded.urls);
    expect(elsewhere, 'requests that left this machine').toEqual([]);
    expect(recorded.problems).toEqual([]);
  });

  it('renders GraphiQL with the example query, the headers editor open on a placeholder key', async () => {
    await openGraphiql(page, server);
    expect(await editorValue(page, '.graphiql-query-editor')).toContain('query Directory {');
    await expect.poll(() => headersEditor(page).innerText()).toContain('Bearer <paste your API key>');
    // Everything the page loaded came from its own assets.
    const paths = recorded.urls.map((url) => new URL(url).pathname);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/graphiql',
        '/graphiql/assets/graphiql.min.js',
        '/graphiql/assets/graphiql.min.css',
        '/graphiql/assets/init.js',
      ]),
    );
  });

  it('invites rather than scolds on first load: no request without a key, every instruction in view at 1400 px', async () => {
    await page.setViewportSize({ width: 1400, height: 900 });
    const graphqlRequests: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/graphql') graphqlRequests.push(r.postDataJSON()?.operationName ?? '?');
    });
    await openGraphiql(page, server);
    await expect.poll(() => headersEditor(page).innerText()).toContain('Bearer <paste your API key>');
    // Nothing was sent with the placeholder, so no error is on screen.
    expect(graphqlRequests).toEqual([]);
    expect(await resultText(page)).toBe('');
    // The query editor shows its instructions whole: no rendered line ends past its right edge.
    const overflow = await page.evaluate<number>(`(() => {
      const editor = document.querySelector('.graphiql-query-editor .CodeMirror').getBoundingClientRect();
      const ends = [...document.querySelectorAll('.graphiql-query-editor .CodeMirror-line > span')].map((l) => l.getBoundingClientRect().right);
      return Math.max(...ends) - editor.right;
    })()`);
    expect(overflow).toBeLessThanOrEqual(0);

    // Run with the placeholder: what to do, said in the result pane, still without a request.
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => resultText(page)).toContain('No API key yet: open the Headers tab below');
    expect(graphqlRequests).toEqual([]);
  });

  it('shows UNAUTHENTICATED when run with a key the server does not know', async () => {
    await openGraphiql(page, server);
    await pasteHeaders(page, JSON.stringify({ Authorization: 'Bearer dsk_not-a-key-this-server-knows' }));
    const answer = await runDirectoryQuery(page);
    expect(answer.body).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
    await expect.poll(() => resultText(page)).toContain('UNAUTHENTICATED');
    expect(await resultText(page)).not.toContain(email);
  });

  it('runs the example query with a pasted key and shows the member a webhook created', async () => {
    await openGraphiql(page, server);
    // Pasting a key also reloads the schema (Docs, completion) with it.
    const introspected = page.waitForRequest(
      (r) =>
        r.postDataJSON()?.operationName === 'IntrospectionQuery' &&
        r.headers().authorization === `Bearer ${server.adminKey}`,
    );
    await pasteHeaders(page, JSON.stringify({ Authorization: `Bearer ${server.adminKey}` }));
    await introspected;

    const answer = await runDirectoryQuery(page);
    expect(answer.status).toBe(200);
    expect(answer.body).not.toHaveProperty('errors');
    await expect.poll(() => resultText(page)).toContain(email);
    const shown = JSON.parse(await resultText(page)) as { data: { viewer: { role: string } } };
    expect(shown.data.viewer.role).toBe('ADMIN');
    // On screen, not only in the editor's model.
    await expect.poll(() => page.locator('.result-window').innerText()).toContain(email);
  });

  it('takes a pasted sign-in token (JWT) where it takes a key', async () => {
    const token = await signIn.token({ dsync_admin: true });
    await openGraphiql(page, server);
    await pasteHeaders(page, JSON.stringify({ Authorization: `Bearer ${token}` }));
    const answer = await runDirectoryQuery(page);
    expect(answer.status).toBe(200);
    expect(answer.body).not.toHaveProperty('errors');
    await expect.poll(() => page.locator('.result-window').innerText()).toContain(email);
  });

  it('keeps the pasted key across a reload', async () => {
    await openGraphiql(page, server);
    await pasteHeaders(page, JSON.stringify({ Authorization: `Bearer ${server.adminKey}` }));
    // GraphiQL saves the headers as they change; give it the moment it needs.
    await expect
      .poll(() => page.evaluate<string>("Object.values(localStorage).join('\\n')"))
      .toContain(server.adminKey);

    await page.reload();
    await page.locator('.graphiql-container').waitFor();
    expect(await editorValue(page, '.graphiql-editor-tool .graphiql-editor:not(.hidden)')).toContain(server.adminKey);
    const answer = await runDirectoryQuery(page);
    expect(answer.status).toBe(200);
    await expect.poll(() => resultText(page)).toContain(email);
  });
});
