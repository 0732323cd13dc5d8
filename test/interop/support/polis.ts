// The real Ory Polis (the npm package @boxyhq/saml-jackson is Polis itself), in this process,
// with its in-memory store, posting its real webhooks to a running service. Tests drive it only
// through its own controllers and SCIM handler, as an admin UI and an identity provider would.
import { randomBytes } from 'node:crypto';
import { controllers, forge, type Directory, type DirectoryType, type SAMLJackson } from '../../oracles/polis.js';
import { startHttpRecorder, type HttpRecorder } from '../../support/http-recorder.js';
import { startTestServer, type TestServer } from '../../support/server.js';

export interface PolisOptions {
  /** Where Polis posts sso.* and dsync.* events (its global WEBHOOK_URL). */
  webhookUrl: string;
  /** Its global WEBHOOK_SECRET. */
  webhookSecret: string;
  /** DSYNC_WEBHOOK_BATCH_SIZE: user and group events queue up and go out in batches. */
  batchSize?: number;
  /** Where Polis keeps its data (default its in-memory store), and its page limit (DB_PAGE_LIMIT). */
  store?: PolisStore;
}

/** The stores deployments run Polis on, as its `db` options name them. */
export type PolisStore =
  | { engine: 'mem'; pageLimit?: number }
  | { engine: 'sql'; type: 'postgres'; url: string; pageLimit?: number }
  | { engine: 'dynamodb'; url: string; pageLimit?: number };

/** Polis's `db` options for a store. */
function dbOptions(store: PolisStore = { engine: 'mem' }): Record<string, unknown> {
  if (store.engine !== 'dynamodb') return { ...store };
  // The AWS SDK wants credentials and a region even for a local endpoint; dynalite takes any.
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  return { ...store, dynamodb: { region: 'us-east-1', readCapacityUnits: 5, writeCapacityUnits: 5 } };
}

export interface Polis {
  jackson: SAMLJackson;
  /** What Polis logged: its retries and failed sends show up here. */
  log: string[];
  /** Sends one SCIM request to a directory, as the identity provider would. */
  scim(directory: Directory, request: ScimRequest): Promise<{ status: number; data: Record<string, unknown> }>;
  close(): Promise<void>;
}

export interface ScimRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  resource: 'Users' | 'Groups';
  id?: string;
  body?: Record<string, unknown>;
}

export async function startPolis(options: PolisOptions): Promise<Polis> {
  // Polis reports anonymous usage to Mixpanel unless told not to; nothing here may leave the machine.
  process.env.DO_NOT_TRACK = '1';
  const log: string[] = [];
  const note =
    (level: string) =>
    (...args: unknown[]) =>
      void log.push(`${level}: ${args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ')}`);
  // Polis caches its store on the process (global.__jacksonDb) and hands it to every later
  // instance whatever its options: each Polis here gets a store of its own, as separate Polis
  // deployments have, whichever test files ran in this process before.
  delete (globalThis as { __jacksonDb?: unknown }).__jacksonDb;
  const jackson = await controllers({
    externalUrl: 'http://polis.test',
    samlAudience: 'https://saml.polis.test',
    samlPath: '/api/oauth/saml',
    oidcPath: '/api/oauth/oidc',
    db: dbOptions(options.store),
    webhook: { endpoint: options.webhookUrl, secret: options.webhookSecret },
    ...(options.batchSize ? { dsync: { webhookBatchSize: options.batchSize } } : {}),
    logger: { info: note('info'), warn: note('warn'), error: note('error') },
  } as Parameters<typeof controllers>[0]);
  return {
    jackson,
    log,
    async scim(directory, request) {
      const reply = await jackson.directorySyncController.requests.handle({
        method: request.method,
        resourceType: request.resource.toLowerCase() as 'users' | 'groups',
        directoryId: directory.id,
        apiSecret: directory.scim.secret,
        resourceId: request.id,
        body: request.body,
        query: {},
      } as Parameters<SAMLJackson['directorySyncController']['requests']['handle']>[0]);
      return { status: reply.status, data: (reply.data ?? {}) as Record<string, unknown> };
    },
    close: () => jackson.close(),
  };
}

/** Creates a directory in Polis with its own webhook URL and secret; fails the test on error. */
export async function createDirectory(
  polis: Polis,
  params: { tenant: string; product: string; name: string; type: DirectoryType; webhookUrl: string; webhookSecret: string },
): Promise<Directory> {
  const { data, error } = await polis.jackson.directorySyncController.directories.create({
    tenant: params.tenant,
    product: params.product,
    name: params.name,
    type: params.type,
    webhook_url: params.webhookUrl,
    webhook_secret: params.webhookSecret,
  });
  if (error || !data) throw new Error(`Polis refused the directory: ${JSON.stringify(error)}`);
  return data;
}

/** Activates or deactivates a directory through Polis's update API (sends dsync.(de)activated). */
export async function setDirectoryActive(polis: Polis, directory: Directory, active: boolean): Promise<void> {
  const { error } = await polis.jackson.directorySyncController.directories.update(directory.id, { deactivated: !active });
  if (error) throw new Error(`Polis refused the update: ${JSON.stringify(error)}`);
}

export async function deleteDirectory(polis: Polis, directory: Directory): Promise<void> {
  const { error } = await polis.jackson.directorySyncController.directories.delete(directory.id);
  if (error) throw new Error(`Polis refused the delete: ${JSON.stringify(error)}`);
}

/** A random secret of the kind an operator would paste into Polis's webhook settings. */
export const newWebhookSecret = () => randomBytes(24).toString('hex');

/**
 * SAML IdP metadata with a signing certificate made now (self-signed, RSA 2048), as an identity
 * provider publishes it. Polis parses it and keeps the certificate.
 */
export function idpMetadata(entityId: string): string {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomBytes(8).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600_000);
  const subject = [{ name: 'commonName', value: new URL(entityId).hostname }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  const der = forge.pki.certificateToPem(cert).replace(/-----[^-]+-----|\s/g, '');
  return `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entityId}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${entityId}/sso"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${entityId}/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`;
}

/** OpenID Provider metadata given inline, so Polis does not fetch a discovery document. */
export function opMetadata(issuer: string) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/userinfo`,
    jwks_uri: `${issuer}/jwks`,
  };
}

/** A running service, the recorder in front of it, and a real Polis posting through the recorder. */
export interface PolisRig {
  server: TestServer;
  recorder: HttpRecorder;
  polis: Polis;
  close(): Promise<void>;
}

/**
 * Starts the service with `env`, a recorder in front of it, and a Polis whose global webhook
 * (and, unless a directory says otherwise, every directory's) points through the recorder.
 */
export async function startPolisRig(options: { env: Record<string, string>; webhookSecret: string; batchSize?: number; store?: PolisStore }): Promise<PolisRig> {
  const server = await startTestServer({ env: options.env });
  const recorder = await startHttpRecorder(server.url);
  const polis = await startPolis({
    webhookUrl: `${recorder.url}/webhooks/polis`,
    webhookSecret: options.webhookSecret,
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    ...(options.store ? { store: options.store } : {}),
  });
  return {
    server,
    recorder,
    polis,
    close: async () => {
      await polis.close();
      await recorder.close();
      await server.close();
    },
  };
}
