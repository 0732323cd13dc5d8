// Stytch B2B adapter. Deliveries come through Svix: verified with the svix library over the
// raw body, deduplicated on svix-id (never the payload's event_id, which Stytch's test events
// share). Object types map onto the directory:
//   organization -> tenant; member -> member; saml/oidc/scim_connection -> connection;
//   scim_group -> group; scim_member_group -> membership.
// Consumer-vertical events and object types the directory does not hold are recorded as
// ignored, so nothing that arrived signed is lost.
import { Webhook, WebhookVerificationError } from 'svix';
import type { z } from 'zod';
import { redact } from '../../lib/redact.js';
import { MAX_ID_LENGTH } from '../fields.js';
import { makeVersion, nanosFromMillis, parseRfc3339Nanos } from '../../directory/version.js';
import type {
  ConnectionKind,
  ConnectionStatus,
  Delivery,
  DirectoryChange,
  InboundEvent,
  Json,
  MemberStatus,
  TenantRef,
  Version,
} from '../../directory/types.js';
import { header, type SourceAdapter, type Verification, type Verified } from '../types.js';
import { describeZodError } from '../../lib/zod-error.js';
import { outsideWindow } from '../signing-window.js';
import { stytchPublicRaw } from './public-raw.js';
import {
  connectionSchema,
  envelopeSchema,
  memberSchema,
  organizationSchema,
  scimGroupSchema,
  scimMembershipSchema,
  type StytchEnvelope,
} from './events.js';

const PROVIDER = 'STYTCH' as const;

export interface StytchOptions {
  /** `whsec_...` secrets; several while one is being rotated. */
  secrets: string[];
  toleranceSeconds: number;
}

/** The body key each object type's state travels under. */
export const STYTCH_OBJECT_KEYS = {
  organization: 'organization',
  member: 'member',
  saml_connection: 'saml_connection',
  oidc_connection: 'oidc_connection',
  scim_connection: 'scim_connection',
  scim_group: 'scim_group',
  scim_member_group: 'scim_group_membership',
} as const;
type ObjectType = keyof typeof STYTCH_OBJECT_KEYS;

const CONNECTION_KINDS: Record<string, ConnectionKind> = {
  saml_connection: 'SAML',
  oidc_connection: 'OIDC',
  scim_connection: 'DIRECTORY',
};

export function createStytchSource(options: StytchOptions): SourceAdapter {
  const webhooks = options.secrets.map((secret) => new Webhook(secret));
  const { toleranceSeconds } = options;

  function verify({ headers, body, now }: Parameters<SourceAdapter['verify']>[0]): Verification {
    if (webhooks.length === 0) {
      return { ok: false, reason: 'Stytch webhooks are not configured here (set STYTCH_WEBHOOK_SECRET)' };
    }
    // Svix sends svix-*; the Standard Webhooks names carry the same values.
    const id = header(headers, 'svix-id') ?? header(headers, 'webhook-id');
    const timestamp = header(headers, 'svix-timestamp') ?? header(headers, 'webhook-timestamp');
    const signature = header(headers, 'svix-signature') ?? header(headers, 'webhook-signature');
    if (!id || !timestamp || !signature) {
      return { ok: false, reason: 'missing svix-id, svix-timestamp or svix-signature header' };
    }
    // Svix ids are ~30 characters; the id becomes an indexed delivery key, which has a size limit.
    if (id.length > MAX_ID_LENGTH) {
      return { ok: false, reason: `malformed svix-id: longer than ${MAX_ID_LENGTH} characters` };
    }
    if (!/^\d{1,12}$/.test(timestamp)) {
      return { ok: false, reason: 'malformed svix-timestamp: expected unix seconds' };
    }
    // Our own window, so WEBHOOK_TOLERANCE_SECONDS applies; the svix library also enforces
    // its fixed 5 minutes, so a wider setting cannot widen it for Stytch.
    const late = outsideWindow(now, Number(timestamp) * 1000, toleranceSeconds);
    if (late) return { ok: false, reason: late };
    const svixHeaders = { 'svix-id': id, 'svix-timestamp': timestamp, 'svix-signature': signature };
    for (const webhook of webhooks) {
      try {
        webhook.verify(body, svixHeaders);
        return {
          ok: true,
          verified: { keys: [`svix:${id}`], signedAt: new Date(Number(timestamp) * 1000) },
        };
      } catch (error) {
        if (!(error instanceof WebhookVerificationError)) throw error;
      }
    }
    return { ok: false, reason: 'signature does not match' };
  }

  function parse(payload: unknown, verified: Verified): Delivery {
    const delivery = { source: 'stytch', keys: verified.keys, signedAt: verified.signedAt };
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
      return { ...delivery, body: redact(payload as Json), events: [{ type: '', changes: [], rejected: 'body: expected a JSON object' }] };
    }
    const body = redact(payload as Json) as { [key: string]: Json };
    const type = eventType(body);
    const result = outOfScope(body, type) ?? normaliseEnvelope(body, type, latestBelievable(verified.signedAt, toleranceSeconds));
    const event: InboundEvent = result.ok ? result.event : { type, changes: [], rejected: result.error };
    return { ...delivery, body, events: [event] };
  }

  // The organization the event is about: on the envelope, or on the object it carries.
  function tenantOf(payload: unknown): string | undefined {
    const body = (payload !== null && typeof payload === 'object' ? payload : {}) as Record<string, unknown>;
    const holders = [body, ...Object.values(STYTCH_OBJECT_KEYS).map((key) => body[key])];
    for (const holder of holders) {
      const id = (holder !== null && typeof holder === 'object' ? holder : {}) as Record<string, unknown>;
      if (typeof id.organization_id === 'string') return id.organization_id;
    }
    return undefined;
  }

  return { name: 'stytch', provider: PROVIDER, publicRaw: stytchPublicRaw, configured: webhooks.length > 0, verify, parse, tenantOf };
}

/** Svix's event-type name, e.g. `direct.member.create`, from whatever parts the body has. */
function eventType(body: { [key: string]: Json }): string {
  return [body.source, body.object_type, body.action]
    .filter((part): part is string => typeof part === 'string' && part !== '')
    .join('.')
    .toLowerCase();
}

type Normalised = { ok: true; event: InboundEvent } | { ok: false; error: string };

const ignored = (type: string, reason: string): Normalised => ({
  ok: true,
  event: { type, changes: [], ignored: reason },
});

/**
 * Events the directory does not hold are recorded before their shape is checked: a Consumer
 * project's events or a new object type may not follow the B2B envelope.
 */
function outOfScope(body: { [key: string]: Json }, type: string): Normalised | undefined {
  const { vertical, object_type: objectType } = body;
  if (typeof vertical === 'string' && vertical !== 'B2B') {
    return ignored(type, `${vertical} vertical events are not part of a B2B directory`);
  }
  if (typeof objectType === 'string' && objectType !== '' && !(objectType in STYTCH_OBJECT_KEYS)) {
    return ignored(type, `object type ${objectType} is not held in the directory`);
  }
  return undefined;
}

/**
 * The latest event time a delivery signed at `signedAt` can carry. A Stytch event is signed
 * when it is sent, after it happened (Svix's retries, later still); a time further ahead than
 * the clock tolerance is not believed: it would outrank every real event of that object for
 * as long as it lies ahead.
 */
function latestBelievable(signedAt: Date, toleranceSeconds: number): { nanos: bigint; toleranceSeconds: number } {
  return { nanos: nanosFromMillis(signedAt.getTime() + toleranceSeconds * 1000), toleranceSeconds };
}

function normaliseEnvelope(
  body: { [key: string]: Json },
  type: string,
  latest: { nanos: bigint; toleranceSeconds: number },
): Normalised {
  const envelope = envelopeSchema.safeParse(body);
  if (!envelope.success) return { ok: false, error: describeZodError(envelope.error) };
  return normalise(envelope.data, body, type, latest);
}

function normalise(
  e: StytchEnvelope,
  body: { [key: string]: Json },
  type: string,
  latest: { nanos: bigint; toleranceSeconds: number },
): Normalised {
  if (e.action !== 'CREATE' && e.action !== 'UPDATE' && e.action !== 'DELETE') {
    return ignored(type, `action ${e.action} is not known`);
  }
  const nanos = parseRfc3339Nanos(e.timestamp);
  if (nanos === undefined) return { ok: false, error: 'timestamp: must be an RFC 3339 timestamp' };
  if (nanos > latest.nanos) {
    return {
      ok: false,
      error: `timestamp: more than ${latest.toleranceSeconds} s after the signature's time (svix-timestamp); not believed`,
    };
  }
  if (nanos < 0n) return { ok: false, error: 'timestamp: before 1970; not believed' };
  const version = makeVersion(nanos);
  const objectType = e.object_type as ObjectType;

  if (e.action === 'DELETE') {
    return { ok: true, event: { type, changes: [bareDelete(objectType, e.id, version)] } };
  }
  const objectKey = STYTCH_OBJECT_KEYS[objectType];
  const object = body[objectKey];
  if (object === undefined || object === null || typeof object !== 'object' || Array.isArray(object)) {
    return { ok: false, error: `${objectKey}: a ${e.action} event must carry the ${objectKey} object` };
  }
  const change = upsert(objectType, e.id, version, object);
  if (!change.ok) return { ok: false, error: describeZodError(change.error, [objectKey]) };
  return { ok: true, event: { type, changes: [change.change] } };
}

function bareDelete(objectType: ObjectType, id: string, version: Version): DirectoryChange {
  const key = { provider: PROVIDER, externalId: id };
  switch (objectType) {
    case 'organization':
      return { entity: 'TENANT', op: 'delete', key: { ...key, product: '' }, version };
    case 'member':
      return { entity: 'MEMBER', op: 'delete', key, version };
    case 'saml_connection':
    case 'oidc_connection':
    case 'scim_connection':
      return { entity: 'CONNECTION', op: 'delete', key: { ...key, kind: CONNECTION_KINDS[objectType]! }, version };
    case 'scim_group':
      return { entity: 'GROUP', op: 'delete', key, version };
    case 'scim_member_group':
      return { entity: 'MEMBERSHIP', op: 'delete', key, version };
  }
}

const tenantOf = (organizationId: string): TenantRef => ({
  provider: PROVIDER,
  externalId: organizationId,
  product: '',
});

function memberStatus(status: string | null | undefined): MemberStatus | 'deleted' {
  switch ((status ?? '').toLowerCase()) {
    case 'active':
      return 'ACTIVE';
    case 'invited':
      return 'INVITED';
    case 'deleted':
      return 'deleted';
    default:
      return 'PENDING';
  }
}

function connectionStatus(status: string | null | undefined): ConnectionStatus {
  switch ((status ?? '').toLowerCase()) {
    case 'active':
      return 'ACTIVE';
    case 'pending':
    case '':
      return 'PENDING';
    default:
      // Never report an unrecognised state as usable.
      return 'INACTIVE';
  }
}

type Upsert = { ok: true; change: DirectoryChange } | { ok: false; error: z.ZodError };

export type StytchObjectType = ObjectType;

/**
 * One Stytch object as a CREATE or UPDATE webhook carries it (already redacted), read at
 * `version`: what reconciliation reads from Stytch's API goes through the webhooks' mapping.
 * Undefined when it cannot be read (no id).
 */
export function readStytchObject(objectType: ObjectType, id: string, object: Json, version: Version): DirectoryChange | undefined {
  const result = upsert(objectType, id, version, object);
  return result.ok ? result.change : undefined;
}

function upsert(objectType: ObjectType, id: string, version: Version, object: Json): Upsert {
  const key = { provider: PROVIDER, externalId: id };
  switch (objectType) {
    case 'organization': {
      const p = organizationSchema.safeParse(object);
      if (!p.success) return { ok: false, error: p.error };
      return {
        ok: true,
        change: {
          entity: 'TENANT',
          op: 'upsert',
          key: { ...key, product: '' },
          version,
          data: { name: p.data.organization_name || null, slug: p.data.organization_slug || null, raw: object },
        },
      };
    }
    case 'member': {
      const p = memberSchema.safeParse(object);
      if (!p.success) return { ok: false, error: p.error };
      const status = memberStatus(p.data.status);
      return {
        ok: true,
        change: {
          entity: 'MEMBER',
          // Stytch can report a member as deleted through an update.
          op: status === 'deleted' ? 'delete' : 'upsert',
          key,
          version,
          data: {
            tenant: tenantOf(p.data.organization_id),
            directory: null,
            email: p.data.email_address || null,
            name: p.data.name || null,
            firstName: null,
            lastName: null,
            status: status === 'deleted' ? 'INACTIVE' : status,
            roles: p.data.roles,
            raw: object,
          },
        },
      };
    }
    case 'saml_connection':
    case 'oidc_connection':
    case 'scim_connection': {
      const p = connectionSchema.safeParse(object);
      if (!p.success) return { ok: false, error: p.error };
      const kind = CONNECTION_KINDS[objectType]!;
      return {
        ok: true,
        change: {
          entity: 'CONNECTION',
          op: 'upsert',
          key: { ...key, kind },
          version,
          data: {
            tenant: tenantOf(p.data.organization_id),
            kind,
            status: connectionStatus(p.data.status),
            name: p.data.display_name || null,
            raw: object,
          },
        },
      };
    }
    case 'scim_group': {
      const p = scimGroupSchema.safeParse(object);
      if (!p.success) return { ok: false, error: p.error };
      return {
        ok: true,
        change: {
          entity: 'GROUP',
          op: 'upsert',
          key,
          version,
          data: {
            tenant: tenantOf(p.data.organization_id),
            directory: p.data.connection_id ? { provider: PROVIDER, externalId: p.data.connection_id } : null,
            name: p.data.group_name || null,
            raw: object,
          },
        },
      };
    }
    case 'scim_member_group': {
      const p = scimMembershipSchema.safeParse(object);
      if (!p.success) return { ok: false, error: p.error };
      return {
        ok: true,
        change: {
          entity: 'MEMBERSHIP',
          op: 'upsert',
          key,
          version,
          data: {
            tenant: tenantOf(p.data.organization_id),
            group: { provider: PROVIDER, externalId: p.data.group_id },
            member: { provider: PROVIDER, externalId: p.data.member_id },
            raw: object,
          },
        },
      };
    }
  }
}
