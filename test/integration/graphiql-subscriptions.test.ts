// GraphiQL's subscriptions, end to end: headless Chromium opens /graphiql, a key is pasted in
// the headers editor (GraphiQL sends it as graphql-ws connection params), a subscription is
// typed and run, and a signed Stytch webhook sent afterwards shows up in the result pane. As in
// graphiql.test.ts, every request the browser makes is recorded to prove none leaves this
// machine, and the page must log no error and trip no Content-Security-Policy directive.
import { randomBytes } from 'node:crypto';
import type { Browser, Page, PageWebSocket } from '../oracles/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPostgres } from '../support/backend.js';
import { findChromium, launchChromium, nonLocal, recordingContext } from '../support/browser.js';
import { seedStytchOrg, stytchEvent, type SeededOrg } from '../support/directory.js';
import { sendStytch, startTestServer, type TestServer } from '../support/server.js';
import { budget } from '../support/time.js';

const chromiumPath = findChromium();
if (!chromiumPath) {
  console.log('GraphiQL subscription browser test skipped: no Chromium (set TEST_CHROMIUM or apt-get install chromium)');
}

const SUBSCRIPTION = 'subscription { memberChanged { action cursor member { externalId email } } }';

interface Recorded {
  /** Every URL the browser requested, WebSockets included. */
  urls: string[];
  /** Page errors, console errors and Content-Security-Policy violations. */
  problems: string[];
  /** Text frames the page sent over its WebSockets. */
  sent: string[];
  /** Text frames the page received over its WebSockets. */
  received: string[];
  /** Until a key is pasted, GraphiQL's schema requests are answered 401, as they should be. */
  keyless: boolean;
}



function watch(page: Page, recorded: Recorded): void {
  page.on('websocket', (ws: PageWebSocket) => {
    recorded.urls.push(ws.url());
    ws.on('framesent', (frame) => {
      if (typeof frame.payload === 'string') recorded.sent.push(frame.payload);
    });
    ws.on('framereceived', (frame) => {
      if (typeof frame.payload === 'string') recorded.received.push(frame.payload);
    });
    ws.on('socketerror', (error) => recorded.problems.push(`WebSocket error: ${error}`));
  });
  page.on('pageerror', (error) => recorded.problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    const text = message.text();
    // The schema requests GraphiQL makes on opening, before any key is pasted, are answered 401
    // by design, and Chromium logs every non-2xx response. Anything else logged as an error
    // counts, a 401 after the key is pasted included.
    const expected401 =
      recorded.keyless &&
      text.includes('status of 401') &&
      new URL(message.location().url || 'about:blank').pathname === '/graphql';
    if (text.startsWith('CSP violation') || (message.type() === 'error' && !expected401)) {
      recorded.problems.push(`console ${message.type()}: ${text}`);
    }
  });
}

/** The full text of a CodeMirror editor (it renders only the lines in view). */
const editorValue = (page: Page, selector: string) =>
  page.evaluate<string>(`document.querySelector(${JSON.stringify(`${selector} .CodeMirror`)}).CodeMirror.getValue()`);

const resultText = (page: Page) => editorValue(page, '.result-window');

/** Replaces an editor's content the way a person does: click, select all, paste. */
async function replaceEditor(page: Page, editor: string, text: string): Promise<void> {
  await page.locator(editor).click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(text);
}

interface Shown {
  data?: { memberChanged?: { action: string; cursor: string; member: { externalId: string; email: string | null } } };
  errors?: unknown[];
}

/** The result pane's JSON; undefined while it is empty or not (yet) JSON. */
async function shownResult(page: Page): Promise<Shown | undefined> {
  const text = await resultText(page);
  try {
    return JSON.parse(text) as Shown;
  } catch {
    return undefined;
  }
}

// The page and what the browser does with it are the same whatever the database behind the
// service: on the Postgres pass this has nothing to add.
describe.runIf(chromiumPath && !onPostgres)('GraphiQL subscriptions in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let org: SeededOrg;

  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchChromium(chromiumPath ?? '');
    org = await seedStytchOrg(server, { members: 0, groups: 0 });
  });
  afterAll(async () => {
    // The browser first: its open connections (the WebSocket included) would hold the server's close.
    await browser?.close();
    await server?.close();
  });

  // A fresh name every time, so sending the same member again is a change (an identical one is not).
  const memberCreated = (id: string, email: string) =>
    stytchEvent('member', 'CREATE', id, {
      member_id: id,
      organization_id: org.organizationId,
      email_address: email,
      status: 'active',
      name: `Name ${randomBytes(3).toString('hex')}`,
    });

  it('runs a subscription with a pasted key and shows the change a webhook pushes', async () => {
    const recorded: Recorded = { urls: [], problems: [], sent: [], received: [], keyless: true };
    const context = await recordingContext(browser, recorded.urls);
    try {
      const page = await context.newPage();
      watch(page, recorded);

      const opened = await page.goto(`${server.url}/graphiql`);
      expect(opened?.status()).toBe(200);
      await page.locator('.graphiql-container').waitFor();
      await page.locator('.graphiql-query-editor .CodeMirror').waitFor();

      // Paste the key; the page reloads the schema with it once typing pauses, which also
      // proves the new fetcher (and so the headers) is in place before anything runs.
      const introspected = page.waitForRequest(
        (r) =>
          r.postDataJSON()?.operationName === 'IntrospectionQuery' &&
          r.headers().authorization === `Bearer ${server.adminKey}`,
      );
      await page.locator('.graphiql-editor-tools').getByRole('button', { name: 'Headers' }).click();
      await replaceEditor(
        page,
        '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror',
        JSON.stringify({ Authorization: `Bearer ${server.adminKey}` }),
      );
      await introspected;
      recorded.keyless = false;

      await replaceEditor(page, '.graphiql-query-editor .CodeMirror', SUBSCRIPTION);
      expect(await editorValue(page, '.graphiql-query-editor')).toBe(SUBSCRIPTION);
      // GraphiQL re-reads the document (which operation, under what name) 100 ms after an edit;
      // run before that and it sends the previous query's operationName (Directory). A person
      // is never that quick: wait until it has seen the one anonymous subscription.
      await expect
        .poll(() =>
          page.evaluate<string>(
            "(() => { const cm = document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror; return JSON.stringify([cm.operationName ?? null, (cm.operations ?? []).map((o) => o.operation)]); })()",
          ),
        )
        .toBe(JSON.stringify([null, ['subscription']]));

      const socketOpened = page.waitForEvent('websocket');
      await page.locator('.graphiql-execute-button').click();
      const socket = await socketOpened;
      const host = new URL(server.url).host;
      expect(socket.url()).toBe(`ws://${host}/graphql`);
      // The key went as connection params, the server accepted it, and the operation was sent.
      await expect.poll(() => recorded.sent.map((f) => JSON.parse(f).type as string)).toContain('subscribe');
      const init = recorded.sent.map((f) => JSON.parse(f)).find((m) => m.type === 'connection_init');
      expect(init?.payload).toEqual({ Authorization: `Bearer ${server.adminKey}` });
      expect(recorded.received.map((f) => JSON.parse(f).type as string)).toContain('connection_ack');

      // The server registers the subscription a moment after `subscribe` arrives, and a change
      // committed before that is (by design, without `after`) not pushed. So keep changing a
      // marker member until one of its changes is on screen: from then on the subscription is live.
      const markerId = `member-test-${org.tag}-graphiql-marker`;
      const markerEmail = `graphiql-marker.${org.tag}@example.test`;
      const deadline = Date.now() + budget(20_000);
      let lastSent = 0;
      for (;;) {
        const shown = await shownResult(page);
        if (shown?.data?.memberChanged?.member.externalId === markerId) break;
        if (Date.now() > deadline) {
          throw new Error(`the subscription never showed a marker change; result pane: ${await resultText(page)}`);
        }
        if (Date.now() - lastSent >= 500) {
          lastSent = Date.now();
          const reply = await sendStytch(server, memberCreated(markerId, markerEmail));
          expect(reply.status).toBe(200);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      // Every marker change was committed before ours, and pushes follow the feed's order, so
      // none can reach the pane after ours: once ours is shown, the pane stays on it.

      // The one event this test is about, sent while the subscription is live.
      const suffix = randomBytes(4).toString('hex');
      const id = `member-test-${org.tag}-graphiql-${suffix}`;
      const email = `graphiql-${suffix}.${org.tag}@example.test`;
      const reply = await sendStytch(server, memberCreated(id, email));
      expect(reply.status).toBe(200);

      await expect.poll(() => resultText(page), { timeout: budget(15_000) }).toContain(email);
      const shown = await shownResult(page);
      expect(shown?.errors).toBeUndefined();
      expect(shown?.data?.memberChanged).toMatchObject({ action: 'CREATED', member: { externalId: id, email } });
      expect(shown?.data?.memberChanged?.cursor).toEqual(expect.any(String));
      // On screen, not only in the editor's model.
      const onScreen = await page.locator('.result-window').innerText();
      expect(onScreen).toContain(email);
      expect(onScreen).toContain(id);
      expect(onScreen).toContain('CREATED');
      // Exactly one push for it: no duplicate, no replay.
      expect(recorded.received.filter((f) => f.includes(email))).toHaveLength(1);
    } finally {
      await context.close();
    }

    const elsewhere = nonLocal(recorded.urls);
    expect(elsewhere, 'requests that left this machine').toEqual([]);
    expect(recorded.urls).toContain(`${server.url.replace(/^http/, 'ws')}/graphql`);
    expect(recorded.problems).toEqual([]);
  });
});
