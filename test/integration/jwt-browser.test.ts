// A frontend on another origin, in a real headless Chromium, calls the API with its own sign-in
// token: allowed from the origin in CORS_ORIGINS (the browser's preflight passes, the token is
// read as a tenant's), refused by the browser from any other origin. Once, on the embedded
// database: CORS and the token path do not depend on the backend.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from '../oracles/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend, onPostgres } from '../support/backend.js';
import { findChromium, launchChromium, nonLocal, recordingContext } from '../support/browser.js';
import { seedStytchOrg, type SeededOrg } from '../support/directory.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { hmacSignIn } from '../support/sign.js';

const chromiumPath = findChromium();
const signIn = hmacSignIn();

/** A site with one empty page: an origin for the browser to call the API from. */
async function site(): Promise<{ origin: string; close(): Promise<void> }> {
  const http: Server = createServer((_request, response) => {
    response.setHeader('content-type', 'text/html');
    response.end('<!doctype html><title>frontend</title>');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => http.close(() => resolve())),
  };
}

describe.runIf(chromiumPath && !onPostgres)(`a frontend calling with its sign-in token from a browser (${backend})`, () => {
  let allowed: Awaited<ReturnType<typeof site>>;
  let other: Awaited<ReturnType<typeof site>>;
  let server: TestServer;
  let browser: Browser;
  let org: SeededOrg;

  beforeAll(async () => {
    allowed = await site();
    other = await site();
    server = await startTestServer({
      env: { ...signIn.env, CORS_ORIGINS: allowed.origin },
    });
    org = await seedStytchOrg(server, { members: 1, groups: 0 });
    browser = await launchChromium(chromiumPath ?? '');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await allowed?.close();
    await other?.close();
  });

  /** From a page of `origin`: the API's answer to the token, or how the browser refused. */
  async function callFrom(origin: string, token: string) {
    const urls: string[] = [];
    const context = await recordingContext(browser, urls);
    try {
      const page = await context.newPage();
      await page.goto(origin);
      const outcome = await page.evaluate(
        async ({ api, token }) => {
          try {
            const response = await fetch(`${api}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
              body: JSON.stringify({ query: '{ viewer { role tenant { externalId } } }' }),
            });
            return { status: response.status, body: (await response.json()) as unknown };
          } catch (error) {
            return { refused: String(error) };
          }
        },
        { api: server.url, token },
      );
      expect(nonLocal(urls)).toEqual([]);
      return outcome;
    } finally {
      await context.close();
    }
  }

  it('reads its tenant from the allowed origin, and the browser refuses it from any other', async () => {
    const token = await signIn.token({ dsync_tenant: `stytch:${org.organizationId}` }, 'browser user');
    expect(await callFrom(allowed.origin, token)).toEqual({
      status: 200,
      body: { data: { viewer: { role: 'TENANT', tenant: { externalId: org.organizationId } } } },
    });
    expect(await callFrom(other.origin, token)).toEqual({ refused: expect.stringMatching(/Failed to fetch/) });
  });
});
