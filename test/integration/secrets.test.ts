// No secret that reaches the service is kept, logged or served. The whole corpus (every fixture,
// every sample `npm run trigger` sends, events the service only records, refused deliveries)
// goes to real service processes logging at trace, then debug; afterwards every log line, every
// row of every table and every GraphQL response, over HTTP and WebSocket, errors included, is
// searched for each payload secret and for the service's own secrets. Canaries planted beside
// the secrets must turn up in those same places, so an empty log or a missing `raw` can never
// pass for a clean scan.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, generateApiKey } from '../../src/auth/api-keys.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/open.js';
import {
  POLIS_SAMPLES,
  polisSample,
  STYTCH_SAMPLE_NAMES,
  stytchSample,
  stytchTimestamp,
  WORKOS_SAMPLE_NAMES,
  workosSample,
} from '../../src/samples/events.js';
import { backend, createPostgresDatabase, onPostgres } from '../support/backend.js';
import { dumpEveryTable, query, TABLES } from '../support/db.js';
import { polisAll, stytchSeed, uniquify, withPayloadSecret } from '../support/fixtures.js';
import { subscribe, type LiveSubscription } from '../support/live.js';
import { seededDataDir, spawnService, type ServiceProcess } from '../support/process.js';
import { gql, polisRequest, post, stytchRequest, workosRequest, type GraphQLReply, type PolisRequest, type Reply } from '../support/server.js';
import { newPayloadSecret, newPolisSecret, newStytchSecret, newWorkosSecret } from '../support/sign.js';

type Obj = Record<string, unknown>;
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

// ---- what is planted ------------------------------------------------------------------------

interface Planted {
  /** Which event and key it was sent under, for the failure message. */
  where: string;
  /** Under a key name redact.ts does not match (the last test). */
  unmatched: boolean;
}
const planted = new Map<string, Planted>();
const plant = (where: string, unmatched = false) => {
  const value = newPayloadSecret();
  planted.set(value, { where, unmatched });
  return value;
};

/**
 * A non-secret value sent beside secrets. `raw`: in an object the directory keeps as an
 * entity's `raw`; `stored`: only in a delivery's body; `refused`: in a delivery that was
 * turned away, so stored nowhere.
 */
interface Canary {
  value: string;
  where: string;
  placement: 'raw' | 'stored' | 'refused';
}
const canaries: Canary[] = [];
const canary = (where: string, placement: Canary['placement']) => {
  const value = `ok_${hex(10)}`;
  canaries.push({ value, where, placement });
  return value;
};

/** Names a hostile review planted that an earlier redact.ts let through. */
const REVIEW_NAMES = [
  'password_hash', 'secret_value', 'secretAccessKey', 'aws_secret_access_key', 'private_key_pem', 'session_jwt', 'jwt',
  'credentials', 'passphrase', 'signing_key', 'encryption_key', 'hmac_key', 'recovery_codes', 'otp', 'authorization', 'cookie', 'bearer',
  'access_key',
];

/** A secret whose value is recognisable by its shape (kept as planted, to be searched for). */
const plantShaped = (where: string, value: string) => {
  planted.set(value, { where, unmatched: false });
  return value;
};

/** Secrets under every spelling of every key redact.ts knows, nested in objects and arrays. */
function knownSecrets(where: string, placement: Canary['placement']): Obj {
  const s = (key: string) => plant(`${where}: ${key}`);
  const b64url = (bytes: number) => randomBytes(bytes).toString('base64url');
  return {
    ...Object.fromEntries(REVIEW_NAMES.map((name) => [name, s(name)])),
    attributes: [
      { name: 'password', value: s('attributes[name=password].value') },
      { key: 'API_KEY', value: s('attributes[key=API_KEY].value') },
      { name: 'department', value: canary(`${where} attributes[name=department]`, placement) },
    ],
    // Under names that say nothing: only the values' shapes give them away.
    misc: [
      plantShaped(`${where}: a Stripe-style key`, `sk_live_${hex(12)}`),
      plantShaped(`${where}: a JWT`, `eyJhbGciOiJIUzI1NiJ9.eyJ${b64url(18)}.${b64url(32)}`),
      plantShaped(`${where}: a private key PEM`, `-----BEGIN EC PRIVATE KEY-----\n${b64url(40)}\n-----END EC PRIVATE KEY-----`),
      `see ${plantShaped(`${where}: a GitHub token in a sentence`, `ghp_${hex(18)}`)} for access`,
    ],
    lookup: { [plantShaped(`${where}: a secret used as a key`, `sk_test_${hex(12)}`)]: canary(`${where} lookup value`, placement) },
    note: canary(where, placement),
    clientSecret: s('clientSecret'),
    ClientSecret: s('ClientSecret'),
    client_secret: s('client_secret'),
    'Client-Secret': s('Client-Secret'),
    webhook_secret: s('webhook_secret'),
    password: s('password'),
    Password: s('Password'),
    passwd: s('passwd'),
    PRIVATE_KEY: s('PRIVATE_KEY'),
    privateKey: `-----BEGIN PRIVATE KEY-----\n${s('privateKey (PEM)')}\n-----END PRIVATE KEY-----`,
    access_token: s('access_token'),
    refreshToken: s('refreshToken'),
    id_token: s('id_token'),
    BEARER_TOKEN: s('BEARER_TOKEN'),
    apiKey: s('apiKey'),
    'api-key': s('api-key'),
    token: s('token'),
    settings: {
      secret: [s('settings.secret[0]'), s('settings.secret[1]')],
      keys: [
        { kid: canary(`${where} settings.keys[0]`, placement), private_key: s('settings.keys[0].private_key') },
        [{ Token: s('settings.keys[1][0].Token') }],
      ],
    },
  };
}

/** Secrets under names providers and customers use that redact.ts does not match. */
function unmatchedSecrets(where: string, unmatched = true): Obj {
  const s = (key: string) => plant(`${where}: ${key}`, unmatched);
  return {
    secret_key: s('secret_key'),
    auth_token: s('auth_token'),
    sessionToken: s('sessionToken'),
    api_keys: [s('api_keys[0]'), s('api_keys[1]')],
    client_secrets: [s('client_secrets[0]')],
  };
}

const objectKey = (type: unknown) => (type === 'scim_member_group' ? 'scim_group_membership' : String(type));
const asObject = (value: unknown): Obj | undefined =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : undefined;

/** The provider's own secret field filled in (when the event has one), plus nested secrets. */
function withSecrets(event: Obj, where: string, placement: 'raw' | 'stored'): Obj {
  const own = newPayloadSecret();
  const copy = withPayloadSecret(event, own);
  if (JSON.stringify(copy).includes(own)) planted.set(own, { where: `${where}: the provider's secret field`, unmatched: false });
  const stytchObject = asObject(copy[objectKey(copy.object_type)]);
  const polisData = asObject(copy.data);
  const object = stytchObject ?? polisData;
  // A key that looks like nothing: redaction has to find the secrets inside it.
  if (object) object.vault = knownSecrets(where, placement);
  const scimUser = asObject(polisData?.raw) ?? asObject(polisData?.raw_attributes);
  if (scimUser && 'userName' in scimUser) scimUser.password = plant(`${where}: SCIM password in raw`);
  copy.context = { api_key: plant(`${where}: envelope api_key`), note: canary(`${where} envelope`, 'stored') };
  return copy;
}

function stytchEnvelope(objectType: string, action: string, id: string, object?: Obj, vertical = 'B2B'): Obj {
  return {
    action,
    event_id: `event-test-${hex(8)}`,
    id,
    object_type: objectType,
    project_id: 'project-test-00000000-0000-4000-8000-000000000000',
    source: 'DIRECT',
    timestamp: stytchTimestamp(),
    vertical,
    ...(object ? { [objectKey(objectType)]: object } : {}),
  };
}

// ---- where it is looked for ---------------------------------------------------------------

interface Found {
  value: string;
  where: string;
  unmatched: boolean;
}

/** Payload secrets in a text: whole, as fragments, or stripped of their prefix, in any case. */
function payloadSecretsIn(text: string): Found[] {
  const bodies = new Map<string, string>();
  for (const value of planted.keys()) bodies.set(value.slice(4), value);
  const found = new Map<string, Found>();
  const note = (value: string) => {
    const p = planted.get(value);
    found.set(value, { value, where: p?.where ?? `a fragment of a payload secret (${value})`, unmatched: p?.unmatched ?? false });
  };
  for (const m of text.matchAll(/sek_[0-9a-f]*/gi)) note(m[0]);
  for (const m of text.matchAll(/[0-9a-f]{40,}/gi)) {
    const run = m[0].toLowerCase();
    for (let i = 0; i + 40 <= run.length; i++) {
      const value = bodies.get(run.slice(i, i + 40));
      if (value) note(value);
    }
  }
  return [...found.values()];
}

const describeFound = (found: Found[]) => found.map((f) => f.where).sort();

// ---- the run --------------------------------------------------------------------------------

interface Sent {
  what: string;
  expected: number;
  outcome?: string;
  reply: Reply;
}

interface Page {
  totalCount?: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  edges: { cursor: string; node: Obj }[];
}

const FRAGMENTS: Record<string, string> = {
  T: 'fragment T on Tenant { id provider externalId name slug product createdAt updatedAt deletedAt raw }',
  // Connection and Member status are different enums: a feed entry may be either.
  C: `fragment C on Connection { id provider externalId kind connectionStatus: status name createdAt updatedAt deletedAt raw
        tenant { ...T } }`,
  M: `fragment M on Member { id provider externalId email name firstName lastName memberStatus: status roles
        createdAt updatedAt deletedAt raw tenant { ...T } directory { ...C } }`,
  G: 'fragment G on Group { id provider externalId name createdAt updatedAt deletedAt raw tenant { ...T } directory { ...C } }',
  S: `fragment S on Membership { id provider externalId createdAt updatedAt deletedAt raw
        tenant { ...T } group { ...G } member { ...M } }`,
  D: 'fragment D on Delivery { id source eventTypes status reason signedAt receivedAt duplicates lastDuplicateAt body outcomes }',
};

/** The operation with the fragments it uses (graphql refuses unused ones). */
function withFragments(operation: string): string {
  const used = new Set<string>();
  const visit = (text: string) => {
    for (const [, name] of text.matchAll(/\.\.\.([A-Z])\b/g)) {
      if (!used.has(name!)) {
        used.add(name!);
        visit(FRAGMENTS[name!]!);
      }
    }
  };
  visit(operation);
  return [operation, ...[...used].map((n) => FRAGMENTS[n])].join('\n');
}

const ALL = '{ includeDeleted: true }';
const LISTS: Record<string, string> = {
  tenants: `query ($after: String) { tenants(first: 25, after: $after, filter: ${ALL}) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { ...T
      connections(first: 10, filter: ${ALL}) { totalCount edges { cursor node { ...C } } }
      members(first: 10, filter: ${ALL}) { totalCount edges { cursor node { ...M } } }
      groups(first: 10, filter: ${ALL}) { totalCount edges { cursor node { ...G } } } } } } }`,
  connections: `query ($after: String) { connections(first: 50, after: $after, filter: ${ALL}) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ...C } } } }`,
  members: `query ($after: String) { members(first: 50, after: $after, filter: ${ALL}) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { ...M groups(first: 10, filter: ${ALL}) { totalCount edges { cursor node { ...G } } } } } } }`,
  groups: `query ($after: String) { groups(first: 50, after: $after, filter: ${ALL}) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { ...G members(first: 10, filter: ${ALL}) { totalCount edges { cursor node { ...M } } } } } } }`,
  changes: `query ($after: String) { changes(first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { cursor action occurredAt recordedAt entity tenant { ...T }
      node { __typename
        ... on Tenant { ...T } ... on Connection { ...C } ... on Member { ...M } ... on Group { ...G } ... on Membership { ...S } } } } } }`,
};
const DELIVERIES = `query ($after: String) { deliveries(first: 100, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ...D } } } }`;
const NODE = `query ($id: ID!) { node(id: $id) { id __typename
  ... on Tenant { ...T } ... on Connection { ...C } ... on Membership { ...S } ... on Delivery { ...D }
  ... on Member { ...M groups(first: 10, filter: ${ALL}) { edges { node { ...G } } } }
  ... on Group { ...G members(first: 10, filter: ${ALL}) { edges { node { ...M } } } } } }`;
const VIEWER = '{ viewer { role name tenant { ...T } } }';

const SUBSCRIPTIONS: Record<string, string> = {
  tenantChanged:
    'subscription ($after: String) { tenantChanged(after: $after) { cursor action occurredAt recordedAt tenant { ...T } } }',
  connectionChanged: `subscription ($after: String) { connectionChanged(after: $after) { cursor action occurredAt recordedAt
    connection { ...C } } }`,
  memberChanged: `subscription ($after: String) { memberChanged(after: $after) { cursor action occurredAt recordedAt
    member { ...M groups(first: 10, filter: ${ALL}) { edges { node { ...G } } } } membership { ...S } } }`,
  groupChanged: `subscription ($after: String) { groupChanged(after: $after) { cursor action occurredAt recordedAt
    group { ...G members(first: 10, filter: ${ALL}) { edges { node { ...M } } } } membership { ...S } } }`,
};
/**
 * Which feed entries each subscription replays. A membership change is a change of its member
 * and of its group, so it is pushed to each that is known (a Stytch membership deleted before
 * anything named it has neither).
 */
const membershipOf = (change: Obj, side: 'member' | 'group') =>
  change.entity === 'MEMBERSHIP' && (change.node as Obj | null)?.[side] != null;
const REPLAYS: Record<string, (change: Obj) => boolean> = {
  tenantChanged: (c) => c.entity === 'TENANT',
  connectionChanged: (c) => c.entity === 'CONNECTION',
  memberChanged: (c) => c.entity === 'MEMBER' || membershipOf(c, 'member'),
  groupChanged: (c) => c.entity === 'GROUP' || membershipOf(c, 'group'),
};

describe(`secrets (${backend})`, () => {
  const polisSecrets = [newPolisSecret(), newPolisSecret()];
  const stytchSecrets = [newStytchSecret(), newStytchSecret()];
  const workosSecrets = [newWorkosSecret(), newWorkosSecret()];
  const adminKey = generateApiKey();
  /** Credentials a client sent that are not keys of this service: echoing them is a leak too. */
  const unknownKey = generateApiKey();
  const notAKey = `key-${hex(24)}`;
  let tenantKey = '';

  let databaseEnv: Record<string, string>;
  let openDirect: () => Promise<DatabaseHandle>;
  let dispose: () => Promise<void> = async () => {};
  let service: ServiceProcess | undefined;
  const logs: string[] = [];
  const sent: Sent[] = [];
  /** GraphQL over HTTP: entity queries, deliveries, and error answers, kept apart. */
  const entityTexts: string[] = [];
  const deliveryTexts: string[] = [];
  const errorReplies: { what: string; reply: GraphQLReply }[] = [];
  /** Everything the WebSocket carried: payloads, errors, close reasons. */
  const wsTexts: string[] = [];
  const replayed: { what: string; expected: number; received: number }[] = [];
  let tables: { tables: string[]; text: string } = { tables: [], text: '' };

  const start = async (logLevel: string) => {
    service = await spawnService({
      ...databaseEnv,
      POLIS_WEBHOOK_SECRET: polisSecrets.join(','),
      STYTCH_WEBHOOK_SECRET: stytchSecrets.join(' '),
      WORKOS_WEBHOOK_SECRET: workosSecrets.join(','),
      ADMIN_API_KEY: adminKey,
      LOG_LEVEL: logLevel,
    });
    return service;
  };
  const stop = async () => {
    const running = service!;
    service = undefined;
    expect(await running.stop()).toBe(0);
    logs.push(...running.output().split('\n'));
  };

  async function sendCorpus(url: string): Promise<void> {
    const deliver = async (what: string, path: 'polis' | 'stytch' | 'workos', r: PolisRequest, expected = 200, outcome?: string) => {
      sent.push({ what, expected, outcome, reply: await post(`${url}/webhooks/${path}`, r.body, r.headers) });
    };
    const toStytch = (what: string, event: unknown, expected = 200, outcome?: string, secret = stytchSecrets[0]!) =>
      deliver(what, 'stytch', stytchRequest(secret, event), expected, outcome);
    const toPolis = (what: string, event: unknown, expected = 200, outcome?: string, secret = polisSecrets[0]!) =>
      deliver(what, 'polis', polisRequest(secret, event), expected, outcome);
    const toWorkos = async (what: string, event: unknown, expected = 200, outcome?: string, secret = workosSecrets[0]!) =>
      deliver(what, 'workos', await workosRequest(secret, event), expected, outcome);
    const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----`;

    // The first change of the feed: subscriptions replay everything after it.
    const marker = `organization-test-marker-${hex(6)}`;
    const markerOrg = { organization_id: marker, organization_name: 'Secret scan' };
    await toStytch('marker', stytchEnvelope('organization', 'CREATE', marker, markerOrg));

    // Every fixture, each with objects of its own so that its object is what `raw` keeps.
    for (const f of stytchSeed) {
      const event = uniquify(f.event);
      const what = `stytch fixture "${f.title}"`;
      await toStytch(what, withSecrets(event, what, event.action === 'DELETE' ? 'stored' : 'raw'));
    }
    for (const f of polisAll) {
      const what = `polis fixture ${f.title}`;
      await toPolis(what, withSecrets(uniquify(f.event), what, f.title.endsWith('.deleted') ? 'stored' : 'raw'));
    }

    // Every sample the trigger CLI sends, signed with either secret of each provider. They tell
    // one story on shared ids, so later events replace earlier ones' raw: their canaries are
    // only required where every delivery is kept.
    for (const [i, name] of Object.keys(POLIS_SAMPLES).entries()) {
      const what = `trigger polis ${name}`;
      await toPolis(what, withSecrets(polisSample(name)!, what, 'stored'), 200, undefined, polisSecrets[i % 2]);
    }
    for (const [i, name] of STYTCH_SAMPLE_NAMES.entries()) {
      const what = `trigger stytch ${name}`;
      await toStytch(what, withSecrets(stytchSample(name)!, what, 'stored'), 200, undefined, stytchSecrets[i % 2]);
    }
    for (const [i, name] of WORKOS_SAMPLE_NAMES.entries()) {
      const what = `trigger workos ${name}`;
      await toWorkos(what, withSecrets(workosSample(name)!, what, 'stored'), 200, undefined, workosSecrets[i % 2]);
    }
    // A WorkOS event the directory does not hold is recorded, redacted, as ignored.
    await toWorkos(
      'workos AuthKit user',
      { object: 'event', id: `event_01SCAN${hex(8)}`, event: 'user.created', created_at: new Date().toISOString(), data: { id: `user_${hex(8)}`, ...knownSecrets('workos AuthKit user', 'stored') } },
      200,
      'ignored',
    );

    // What else Stytch sends with secrets in it: a SCIM connection's token, SAML keys.
    const org = `organization-test-scan-${hex(6)}`;
    const scim = `scim-connection-test-${hex(6)}`;
    await toStytch(
      'stytch SCIM connection with its bearer token',
      stytchEnvelope('scim_connection', 'CREATE', scim, {
        connection_id: scim,
        organization_id: org,
        status: 'active',
        display_name: 'Okta SCIM',
        identity_provider: 'okta',
        bearer_token: plant('stytch scim_connection: bearer_token'),
        bearer_token_last_four: 'abcd',
        note: canary('stytch scim_connection', 'raw'),
      }),
    );
    const saml = `saml-connection-test-${hex(6)}`;
    await toStytch(
      'stytch SAML connection with certificates and keys',
      stytchEnvelope('saml_connection', 'UPDATE', saml, {
        connection_id: saml,
        organization_id: org,
        status: 'active',
        display_name: 'Okta SAML',
        // Certificates are public: they stay.
        signing_certificates: [{ certificate_id: 'c1', certificate: pem('CERTIFICATE', canary('stytch SAML certificate', 'raw')) }],
        saml_encryption_private_keys: [
          {
            private_key_id: 'k1',
            private_key: pem('PRIVATE KEY', plant('stytch saml_connection: saml_encryption_private_keys[0].private_key')),
          },
        ],
      }),
    );

    // Events the directory does not hold are recorded, redacted, as ignored.
    const consumer = `user-test-${hex(6)}`;
    await toStytch(
      'stytch Consumer user',
      stytchEnvelope('user', 'CREATE', consumer, { user_id: consumer, ...knownSecrets('stytch Consumer user', 'stored') }, 'CONSUMER'),
      200,
      'ignored',
    );
    const m2m = `m2m-client-test-${hex(6)}`;
    await toStytch(
      'stytch m2m client',
      stytchEnvelope('m2m_client', 'CREATE', m2m, {
        client_id: m2m,
        client_secret: plant('stytch m2m_client: client_secret'),
        next_client_secret: plant('stytch m2m_client: next_client_secret'),
        note: canary('stytch m2m_client', 'stored'),
      }),
      200,
      'ignored',
    );
    await toStytch(
      'stytch unknown action',
      stytchEnvelope('member', 'ROTATE', `member-test-${hex(6)}`, knownSecrets('stytch unknown action', 'stored')),
      200,
      'ignored',
    );
    await toPolis(
      'polis unknown event',
      {
        event: 'sso.rotated',
        tenant: 'acme',
        product: 'portal',
        data: {
          clientID: hex(20),
          clientSecret: plant('polis sso.rotated: clientSecret'),
          oidcProvider: {
            discoveryUrl: 'https://idp.example/oidc',
            clientSecret: plant('polis sso.rotated: oidcProvider.clientSecret'),
          },
          vault: knownSecrets('polis sso.rotated', 'stored'),
        },
      },
      200,
      'ignored',
    );

    // Polis batch mode, with an event of an unknown type inside.
    const user = polisAll.find((f) => f.title === 'user.created')!.event;
    const group = polisAll.find((f) => f.title === 'group.created')!.event;
    await toPolis('polis batch', [
      withSecrets(uniquify(user), 'polis batch [0] user.created', 'raw'),
      { event: 'user.rotated', tenant: 'acme', product: 'portal', directory_id: 'd', data: knownSecrets('polis batch [1]', 'stored') },
      withSecrets(uniquify(group), 'polis batch [2] group.created', 'raw'),
    ]);

    // A retry of a stored delivery (the duplicate path).
    const retry = stytchRequest(stytchSecrets[0]!, withSecrets(uniquify(stytchSeed[0]!.event), 'stytch retried delivery', 'raw'));
    await deliver('stytch delivery', 'stytch', retry);
    await deliver('stytch retry of that delivery', 'stytch', retry, 200, 'duplicate');

    // Refused: nothing of these may be stored or logged, whatever key a secret is under.
    const secretsOf = (what: string) => ({ ...knownSecrets(what, 'refused'), ...unmatchedSecrets(what, false) });
    const polisUser = (data: Obj): Obj => ({ event: 'user.created', tenant: 'acme', product: 'portal', directory_id: 'd', data });
    const refusedUser = (what: string) => polisUser({ id: 'usr-refused', ...secretsOf(what) });
    const stytchMember = (member: Obj) => stytchEnvelope('member', 'CREATE', 'member-refused', member);
    const refusedMember = (what: string) => stytchMember({ member_id: 'member-refused', organization_id: org, ...secretsOf(what) });
    const tenMinutesAgo = new Date(Date.now() - 600_000);
    const notOurs = stytchRequest(newStytchSecret(), refusedMember('stytch bad signature'));
    await deliver('stytch signed with a secret not ours', 'stytch', notOurs, 401);
    await deliver(
      'stytch signed ten minutes ago',
      'stytch',
      stytchRequest(stytchSecrets[0]!, refusedMember('stytch stale signature'), { at: tenMinutesAgo }),
      401,
    );
    const notOursEither = polisRequest(newPolisSecret(), refusedUser('polis bad signature'));
    await deliver('polis signed with a secret not ours', 'polis', notOursEither, 401);
    const unsigned = { body: JSON.stringify(refusedUser('polis unsigned')), headers: { 'content-type': 'application/json' } };
    await deliver('polis without a signature', 'polis', unsigned, 401);
    // Signed but unreadable: kept (as `rejected`, for replay), so redacted like any other.
    const keptSecrets = (what: string) => ({ ...knownSecrets(what, 'stored'), ...unmatchedSecrets(what) });
    await toStytch(
      'stytch signed but not a valid event (kept as rejected)',
      stytchMember({ organization_id: org, ...keptSecrets('stytch invalid member') }),
      200,
      'rejected',
    );
    const withoutId = { email: 'x@example.test', ...keptSecrets('polis invalid batch [1]') };
    await toPolis(
      'polis signed batch with an invalid event (that one kept as rejected, the other applied)',
      [polisUser({ id: 'usr-rejected-batch', ...keptSecrets('polis invalid batch [0]') }), polisUser(withoutId)],
      200,
      'rejected',
    );
    const truncated = JSON.stringify({ data: { clientSecret: plant('polis truncated JSON: clientSecret') } }).slice(0, -2);
    await deliver('polis signed but not JSON', 'polis', polisRequest(polisSecrets[0]!, truncated), 400);
    const large = {
      ...refusedMember('stytch over 1 MiB'),
      padding: 'x'.repeat(1024 * 1024),
      tail: { password: plant('stytch over 1 MiB: password past the limit') },
    };
    await deliver('stytch signed, over 1 MiB', 'stytch', stytchRequest(stytchSecrets[0]!, large), 413);
    const plain = polisRequest(polisSecrets[0]!, refusedUser('polis text/plain'));
    const asText = { body: plain.body, headers: { ...plain.headers, 'content-type': 'text/plain' } };
    await deliver('polis as text/plain', 'polis', asText, 415);

    // Secrets under names redact.ts does not match (the last test reports them).
    const rotating = `scim-connection-test-${hex(6)}`;
    await toStytch(
      'stytch SCIM connection during token rotation',
      stytchEnvelope('scim_connection', 'UPDATE', rotating, {
        connection_id: rotating,
        organization_id: org,
        status: 'active',
        display_name: 'Okta SCIM',
        bearer_token_last_four: 'abcd',
        // Stytch's SCIMConnectionWithNextToken: the new live token while the old one still works.
        next_bearer_token: plant('stytch scim_connection: next_bearer_token', true),
        next_bearer_token_expires_at: '2030-01-01T00:00:00Z',
        note: canary('stytch scim_connection during rotation', 'raw'),
      }),
    );
    const signing = `saml-connection-test-${hex(6)}`;
    await toStytch(
      'stytch SAML connection with a signing key',
      stytchEnvelope('saml_connection', 'UPDATE', signing, {
        connection_id: signing,
        organization_id: org,
        status: 'active',
        display_name: 'Entra SAML',
        // Stytch's name for the key it signs SAML requests with (Update SAML Connection).
        signing_private_key: pem('RSA PRIVATE KEY', plant('stytch saml_connection: signing_private_key', true)),
        note: canary('stytch SAML connection with a signing key', 'raw'),
      }),
    );
    const member = `member-test-scan-${hex(6)}`;
    await toStytch(
      'stytch member with credentials in its metadata',
      stytchEnvelope('member', 'CREATE', member, {
        member_id: member,
        organization_id: org,
        email_address: 'metadata@example.test',
        status: 'active',
        trusted_metadata: {
          note: canary('stytch member trusted_metadata', 'raw'),
          ...unmatchedSecrets('stytch member trusted_metadata'),
        },
      }),
    );
    const scimUser = uniquify(user) as { data: { raw: Obj } };
    scimUser.data.raw['urn:example:params:scim:schemas:extension:credentials:2.0:User'] = {
      note: canary('polis user SCIM extension', 'raw'),
      ...unmatchedSecrets('polis user SCIM extension'),
    };
    await toPolis('polis user with credentials in a SCIM extension', scimUser);
  }

  /** Every page of a list, its answers kept for the scan. */
  async function allPages(url: string, key: string, root: string, document: string, into: string[]): Promise<Obj[]> {
    const nodes: Obj[] = [];
    let after: string | null = null;
    do {
      const reply = await gql({ url, adminKey }, withFragments(document), { after }, key);
      into.push(reply.text);
      if (reply.status !== 200 || reply.errors) throw new Error(`${root} failed (${reply.status}): ${reply.text.slice(0, 2000)}`);
      const page = reply.data![root] as Page;
      nodes.push(...page.edges.map((e) => e.node));
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);
    return nodes;
  }

  /** Reads every list a key can see, with nested lists, and the viewer; collects ids for node(id). */
  async function readEverything(url: string, key: string, ids: Set<string>): Promise<Obj[]> {
    const lists: Record<string, Obj[]> = {};
    for (const [root, document] of Object.entries(LISTS)) lists[root] = await allPages(url, key, root, document, entityTexts);
    for (const root of ['tenants', 'connections', 'members', 'groups']) for (const n of lists[root]!) ids.add(String(n.id));
    for (const change of lists.changes!) {
      const node = change.node as Obj | null;
      if (node?.id) ids.add(String(node.id));
    }
    const viewer = await gql({ url, adminKey }, withFragments(VIEWER), {}, key);
    entityTexts.push(viewer.text);
    expect(viewer.errors, viewer.text).toBeUndefined();
    return lists.changes!;
  }

  async function nodes(url: string, key: string, ids: Iterable<string>, into: string[]): Promise<void> {
    const queue = [...ids];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const reply = await gql({ url, adminKey }, withFragments(NODE), { id }, key);
        into.push(reply.text);
        if (reply.status !== 200 || reply.errors) throw new Error(`node(${id}) failed: ${reply.text.slice(0, 2000)}`);
      }
    };
    // As many at once as one key may have in progress (GRAPHQL_MAX_CONCURRENT_PER_KEY, 4).
    await Promise.all(Array.from({ length: 4 }, worker));
  }

  /** Subscribes to everything after `after`, and waits until each has replayed its part of `feed`. */
  async function replay(url: string, key: string, who: string, after: string, feed: Obj[]): Promise<void> {
    const live: [string, LiveSubscription<Obj>][] = Object.entries(SUBSCRIPTIONS).map(([field, document]) => [
      field,
      subscribe(url, key, withFragments(document), { after }),
    ]);
    try {
      for (const [field, sub] of live) {
        const expected = feed.filter(REPLAYS[field]!).length;
        await sub.waitFor(expected, 30_000).catch((error: Error) => {
          const pushed = sub.events.map((e) => (Object.values(e)[0] as Obj).cursor);
          throw new Error(`${who} ${field}: ${error.message}; cursors pushed: ${pushed.join(' ')}`);
        });
        replayed.push({ what: `${who} ${field}`, expected, received: sub.events.length });
      }
    } finally {
      for (const [, sub] of live) {
        wsTexts.push(JSON.stringify(sub.events), JSON.stringify(sub.errors));
        await sub.close();
      }
    }
  }

  async function errorAnswers(url: string, key: string, otherTenant: string): Promise<void> {
    const ask = async (what: string, document: string, variables: Obj, as: string | null) =>
      errorReplies.push({ what, reply: await gql({ url, adminKey }, document, variables, as) });
    await ask('no key', '{ viewer { name } }', {}, null);
    await ask('a key this service never issued', '{ viewer { name } }', {}, unknownKey);
    await ask('not a key at all', '{ viewer { name } }', {}, notAKey);
    await ask('a syntax error', '{ tenants { edges { node { id } }', {}, adminKey);
    await ask('an unknown field', '{ tenants { edges { node { password } } } }', {}, adminKey);
    await ask('a bad cursor', 'query ($a: String) { members(after: $a) { totalCount } }', { a: 'not-a-cursor' }, adminKey);
    await ask('deliveries with a tenant key', '{ deliveries { totalCount } }', {}, key);
    const otherTenantsChanges = 'query ($t: ID) { changes(tenantId: $t) { totalCount } }';
    await ask("another tenant's changes with a tenant key", otherTenantsChanges, { t: otherTenant }, key);

    const refusedSocket = subscribe(url, unknownKey, withFragments(SUBSCRIPTIONS.memberChanged!), {});
    const closed = await refusedSocket.closed;
    wsTexts.push(`${closed.code} ${closed.reason}`, JSON.stringify(refusedSocket.errors));
    expect(closed.code, 'a WebSocket with an unknown key is refused').toBeGreaterThanOrEqual(4400);
    const badCursor = subscribe(url, adminKey, withFragments(SUBSCRIPTIONS.tenantChanged!), { after: 'not-a-cursor' });
    await badCursor.done;
    wsTexts.push(JSON.stringify(badCursor.errors));
    expect(badCursor.errors.length, 'a subscription with a bad cursor fails').toBeGreaterThan(0);
    await badCursor.close();
  }

  beforeAll(async () => {
    if (onPostgres) {
      const created = await createPostgresDatabase();
      databaseEnv = { DATABASE_URL: created.url };
      openDirect = () => openDatabase({ databaseUrl: created.url, poolSize: 2 });
      dispose = created.drop;
    } else {
      // The embedded database takes one process at a time: the test reads it between runs.
      const dataDir = await seededDataDir('dsync-secrets-');
      databaseEnv = { DATA_DIR: dataDir };
      openDirect = () => openDatabase({ pgliteDir: join(dataDir, 'pglite') });
      dispose = () => rm(dataDir, { recursive: true, force: true });
    }

    // Deliveries at trace, the most the service can log.
    const first = await start('trace');
    await sendCorpus(first.url);
    await stop();

    // A tenant key for the tenant the Polis samples built, made as `npm run apikey` does.
    let direct = await openDirect();
    const [tenant] = await query(direct, sql`select id from tenants where external_id = 'acme' and product = 'portal'`);
    tenantKey = (await createApiKey(direct.db, { name: 'secret scan', tenantId: String(tenant!.id) })).key;
    await direct.close();

    // Then, at debug (WebSocket sessions log there), everything GraphQL serves to either key.
    const second = await start('debug');
    const ids = new Set<string>();
    const feed = await readEverything(second.url, adminKey, ids);
    const deliveries = await allPages(second.url, adminKey, 'deliveries', DELIVERIES, deliveryTexts);
    await nodes(second.url, adminKey, ids, entityTexts);
    await nodes(second.url, adminKey, deliveries.map((d) => String(d.id)), deliveryTexts);
    const tenantFeed = await readEverything(second.url, tenantKey, new Set());
    // Other tenants' ids too: whatever a tenant key is answered for them is scanned as well.
    await nodes(second.url, tenantKey, ids, entityTexts);
    // The marker is the feed's first change, the tenant key's feed all comes after it.
    const marker = String(feed[0]!.cursor);
    await replay(second.url, adminKey, 'admin', marker, feed.slice(1));
    await replay(second.url, tenantKey, 'tenant key', marker, tenantFeed);
    const otherTenant = String((feed[0]!.tenant as Obj).id);
    await errorAnswers(second.url, tenantKey, otherTenant);
    await stop();

    direct = await openDirect();
    tables = await dumpEveryTable(direct);
    await direct.close();
  });
  afterAll(async () => {
    if (service) await service.stop();
    await dispose();
  });

  const webhookAnswers = () => sent.map((s) => JSON.stringify(s.reply.body)).join('\n');
  const errorTexts = () => errorReplies.map((e) => e.reply.text).join('\n');
  const logText = () => logs.join('\n');
  const mainFindings = (text: string) => describeFound(payloadSecretsIn(text).filter((f) => !f.unmatched));

  it('delivered the whole corpus, each delivery answered as intended', () => {
    const answered = sent.map((s) => `${s.what}: ${s.reply.status}${s.outcome ? ` ${String(s.reply.body.status)}` : ''}`);
    const intended = sent.map((s) => `${s.what}: ${s.expected}${s.outcome ? ` ${s.outcome}` : ''}`);
    expect(answered).toEqual(intended);
    const fixturesAndSamples = stytchSeed.length + polisAll.length + STYTCH_SAMPLE_NAMES.length + Object.keys(POLIS_SAMPLES).length;
    expect(sent.length).toBeGreaterThan(fixturesAndSamples);
    expect(planted.size).toBeGreaterThan(1000);
    // Subscriptions replayed the whole feed after the marker, to both keys.
    for (const r of replayed) expect(r.received, r.what).toBe(r.expected);
    expect(replayed.find((r) => r.what === 'admin memberChanged')!.expected).toBeGreaterThan(20);
    expect(replayed.find((r) => r.what === 'tenant key memberChanged')!.expected).toBeGreaterThan(0);
  });

  it('no payload secret is in any log line, at trace or at debug', () => {
    const text = logText();
    expect(mainFindings(text)).toEqual([]);
    // The logs are there: every accepted delivery, every refusal, debug lines.
    for (const s of sent.filter((x) => x.reply.status === 200)) expect(text).toContain(String(s.reply.body.deliveryId));
    expect(text).toContain('webhook stored');
    expect(text).toContain('webhook refused');
    expect(text).toContain('webhook events rejected: kept for replay');
    for (const status of [400, 401, 413, 415]) expect(text).toContain(`"statusCode":${status}`);
    expect(logs.some((l) => l.includes('"level":20'))).toBe(true);
  });

  it('no payload secret is in any row of any table', () => {
    for (const table of TABLES) expect(tables.tables).toContain(`public.${table}`);
    expect(tables.tables).toContain('drizzle.__drizzle_migrations');
    expect(mainFindings(tables.text)).toEqual([]);
    // Everything that was accepted was stored, next to where its secrets were.
    const missing = canaries.filter((c) => c.placement !== 'refused' && !tables.text.includes(c.value));
    expect(missing.map((c) => c.where)).toEqual([]);
    const kept = canaries.filter((c) => c.placement === 'refused' && tables.text.includes(c.value));
    expect(kept.map((c) => c.where), 'refused deliveries left nothing behind').toEqual([]);
    expect(tables.text).toContain('grace@acme.example');
    expect(tables.text).toContain('adalovelace@stytch.example.com');
    expect(tables.text).toContain('[redacted]');
  });

  it('no payload secret is in any GraphQL answer over HTTP: lists, nested lists, node(id), the feed, deliveries', () => {
    const entities = entityTexts.join('\n');
    const deliveries = deliveryTexts.join('\n');
    expect(mainFindings(entities)).toEqual([]);
    expect(mainFindings(deliveries)).toEqual([]);
    expect(mainFindings(errorTexts())).toEqual([]);
    expect(mainFindings(webhookAnswers())).toEqual([]);
    // raw is served, redacted, with what was beside the secrets still in it.
    const notServed = canaries.filter((c) => c.placement === 'raw' && !entities.includes(c.value));
    expect(notServed.map((c) => c.where)).toEqual([]);
    const notInDeliveries = canaries.filter((c) => c.placement !== 'refused' && !deliveries.includes(c.value));
    expect(notInDeliveries.map((c) => c.where)).toEqual([]);
    for (const text of [entities, deliveries]) {
      expect(text).toContain('grace@acme.example');
      expect(text).toContain('[redacted]');
    }
  });

  it('no payload secret is in anything a subscription replays over WebSocket', () => {
    const text = wsTexts.join('\n');
    expect(mainFindings(text)).toEqual([]);
    const notPushed = canaries.filter((c) => c.placement === 'raw' && !text.includes(c.value));
    expect(notPushed.map((c) => c.where)).toEqual([]);
    expect(text).toContain('grace@acme.example');
    expect(text).toContain('[redacted]');
  });

  it("the service's own secrets and the keys clients sent appear nowhere", () => {
    const own: Record<string, string> = {
      'Polis signing secret 1': polisSecrets[0]!,
      'Polis signing secret 2': polisSecrets[1]!,
      'Stytch signing secret 1': stytchSecrets[0]!,
      'Stytch signing secret 2': stytchSecrets[1]!,
      'Stytch signing key 1 (base64)': stytchSecrets[0]!.slice('whsec_'.length),
      'Stytch signing key 2 (base64)': stytchSecrets[1]!.slice('whsec_'.length),
      'WorkOS signing secret 1': workosSecrets[0]!,
      'WorkOS signing secret 2': workosSecrets[1]!,
      'admin API key': adminKey,
      'tenant API key': tenantKey,
      'a key this service never issued': unknownKey,
      'a bearer value that is not a key': notAKey,
    };
    const places: Record<string, string> = {
      logs: logText(),
      tables: tables.text,
      'GraphQL answers': [...entityTexts, ...deliveryTexts].join('\n'),
      'GraphQL errors': errorTexts(),
      WebSocket: wsTexts.join('\n'),
      'webhook answers': webhookAnswers(),
    };
    const found = Object.entries(places).flatMap(([place, text]) =>
      Object.entries(own).filter(([, value]) => text.includes(value)).map(([name]) => `${name} in ${place}`),
    );
    expect(found).toEqual([]);
    // The error answers are the ones asked for.
    const codes = errorReplies.map((e) => `${e.what}: ${e.reply.status} ${e.reply.errors?.[0]?.extensions?.code}`);
    expect(codes).toEqual([
      'no key: 401 UNAUTHENTICATED',
      'a key this service never issued: 401 UNAUTHENTICATED',
      'not a key at all: 401 UNAUTHENTICATED',
      'a syntax error: 400 GRAPHQL_PARSE_FAILED',
      'an unknown field: 400 GRAPHQL_VALIDATION_FAILED',
      'a bad cursor: 200 BAD_USER_INPUT',
      'deliveries with a tenant key: 200 FORBIDDEN',
      "another tenant's changes with a tenant key: 200 NOT_FOUND",
    ]);
    // The tenant key is in the database (hashed, under its short prefix), so the scan saw its row.
    expect(tables.text).toContain(tenantKey.slice(0, 12));
  });

  it('secrets under key names redact.ts does not match are kept nowhere either', () => {
    const places: Record<string, string> = {
      logs: logText(),
      tables: tables.text,
      'GraphQL over HTTP': [...entityTexts, ...deliveryTexts, ...errorReplies.map((e) => e.reply.text)].join('\n'),
      WebSocket: wsTexts.join('\n'),
    };
    const found = Object.entries(places).flatMap(([place, text]) =>
      payloadSecretsIn(text)
        .filter((f) => f.unmatched)
        .map((f) => `${f.where} (in ${place})`),
    );
    expect(found.sort()).toEqual([]);
  });
});
