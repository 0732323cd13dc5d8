// The real Polis as the sender of SSO connection events: SAML connections from IdP metadata
// with a certificate made now, OIDC connections with inline provider metadata, created,
// deactivated, activated, renamed, deleted and recreated through Polis's own connection API.
// After each step the service's connections equal Polis's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import type { HttpRecorder } from '../support/http-recorder.js';
import { gqlData, type TestServer } from '../support/server.js';
import { polisState, serviceState, type Scope } from './support/compare.js';
import { idpMetadata, newWebhookSecret, opMetadata, startPolisRig, type Polis, type PolisRig } from './support/polis.js';

const secret = newWebhookSecret();
let server: TestServer;
let recorder: HttpRecorder;
let polis: Polis;
let rig: PolisRig;

beforeAll(async () => {
  rig = await startPolisRig({ env: { POLIS_WEBHOOK_SECRET: secret }, webhookSecret: secret });
  ({ server, recorder, polis } = rig);
});
afterAll(() => rig?.close());

const acme: Scope = { tenant: 'acme', product: 'portal' };
const globex: Scope = { tenant: 'globex', product: 'portal' };
const scopes = [acme, globex];

async function expectSameConnections(step: string) {
  const expected = await polisState(polis, scopes);
  expect(expected.members).toEqual([]);
  expect(await serviceState(server, scopes), `after: ${step}`).toEqual(expected);
}

const redirect = { defaultRedirectUrl: 'https://app.example/sso/done', redirectUrl: '["https://app.example/*"]' };

describe(`the real Polis, SSO connections (${backend})`, () => {
  it('SAML and OIDC connections through their whole life equal Polis state after every step', async () => {
    const api = polis.jackson.connectionAPIController;
    const acmeMetadata = idpMetadata('https://idp.acme.example/saml');
    const saml = await api.createSAMLConnection({ ...acme, ...redirect, name: 'Acme Okta', rawMetadata: acmeMetadata });
    await expectSameConnections('SAML connection created');

    const oidc = await api.createOIDCConnection({
      ...acme,
      ...redirect,
      name: 'Acme Google',
      oidcClientId: 'acme-client',
      oidcClientSecret: newWebhookSecret(),
      oidcMetadata: opMetadata('https://accounts.acme.example'),
    });
    await api.createSAMLConnection({ ...globex, ...redirect, name: 'Globex Entra', rawMetadata: idpMetadata('https://sts.globex.example/abc') });
    await expectSameConnections('OIDC connection and another tenant created');

    const samlKeys = { clientID: saml.clientID, clientSecret: saml.clientSecret, ...acme };
    await api.updateSAMLConnection({ ...samlKeys, deactivated: true });
    await expectSameConnections('SAML connection deactivated');
    await api.updateSAMLConnection({ ...samlKeys, deactivated: false });
    await expectSameConnections('SAML connection activated');

    // A rename alone sends nothing (Polis only notifies when `deactivated` is in the update),
    // so the service keeps the old name: a documented gap that reconciliation closes. The next
    // event for the connection carries the current name.
    const oidcKeys = { clientID: oidc.clientID, clientSecret: oidc.clientSecret, ...acme };
    await api.updateOIDCConnection({ ...oidcKeys, name: 'Acme Google Workspace' });
    const renamed = await serviceState(server, [acme]);
    expect(renamed.connections.find((c) => c.externalId === oidc.clientID)?.name).toBe('Acme Google');
    await api.updateOIDCConnection({ ...oidcKeys, deactivated: true });
    await expectSameConnections('OIDC connection renamed, then deactivated');
    await api.updateOIDCConnection({ ...oidcKeys, deactivated: false });
    await expectSameConnections('OIDC connection activated');

    await api.deleteConnections({ clientID: saml.clientID, clientSecret: saml.clientSecret });
    await expectSameConnections('SAML connection deleted');

    // Polis derives a SAML connection's clientID from tenant, product and the IdP's entity id:
    // recreating it brings back the same id, which must come alive again after its deletion.
    const again = await api.createSAMLConnection({ ...acme, ...redirect, name: 'Acme Okta again', rawMetadata: acmeMetadata });
    expect(again.clientID).toBe(saml.clientID);
    await expectSameConnections('SAML connection recreated with the same id');

    await api.deleteConnections({ ...acme });
    await expectSameConnections("all of a tenant's connections deleted");
    const left = await serviceState(server, scopes);
    expect(left.connections.map((c) => c.tenant)).toEqual(['globex']);
  });

  it('answered every delivery 200 and stored no secret', async () => {
    expect(recorder.exchanges.length).toBeGreaterThanOrEqual(10);
    expect(recorder.exchanges.filter((e) => e.status !== 200)).toEqual([]);
    // Polis puts the connection's clientSecret in every sso.* event; the service keeps none.
    const sent = recorder.exchanges.map((e) => (JSON.parse(e.body) as { data: { clientSecret?: string } }).data.clientSecret);
    expect(sent.filter(Boolean).length).toBe(recorder.exchanges.length);
    const data = await gqlData<{ deliveries: { edges: { node: { body: unknown } }[] } }>(
      server,
      `{ deliveries(first: 100) { edges { node { body } } } }`,
    );
    const stored = JSON.stringify(data.deliveries.edges);
    for (const value of sent) expect(stored).not.toContain(value);
  });
});
