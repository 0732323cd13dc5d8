// WorkOS adapter. Events map onto the directory:
//   organization.* -> tenant; connection.* -> SAML or OIDC connection (by connection_type);
//   dsync.activated / dsync.deleted -> DIRECTORY connection (its deletion ends what it
//   provisioned); dsync.user.* -> member; dsync.group.* -> group;
//   dsync.group.user_added / user_removed -> membership (the user and group ride along as
//   snapshots). Every other event is recorded as ignored.
// Deduplicated on the event `id` (WorkOS's retries and its Events API share it). WorkOS does
// not deliver in order and tells consumers to compare `updated_at`: an object's `updated_at`
// orders its events, else the envelope's `created_at`, else the signature's time.
// `previous_attributes` (on updates) is what the object was, not what it is: it is dropped.
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { makeVersion, nanosFromMillis, parseRfc3339Nanos } from '../../directory/version.js';
import type {
  ConnectionKind,
  ConnectionStatus,
  Delivery,
  DirectoryChange,
  EntityKey,
  InboundEvent,
  Json,
  MemberData,
  MemberStatus,
  TenantRef,
  Version,
} from '../../directory/types.js';
import { redact } from '../../lib/redact.js';
import { MAX_ID_LENGTH } from '../fields.js';
import { readEmail, readRoles, readText, type Warnings } from '../lenient.js';
import { header, type SourceAdapter, type Verification, type Verified } from '../types.js';
import { describeZodError } from '../../lib/zod-error.js';
import { outsideWindow } from '../signing-window.js';
import { unstorable } from '../../lib/storable-json.js';
import {
  connectionSchema,
  directoryGroupSchema,
  directorySchema,
  directoryUserSchema,
  envelopeSchema,
  membershipSchema,
  organizationSchema,
} from './events.js';
import { workosPublicRaw } from './public-raw.js';
import { parseWorkosSignatureHeader, signedByAny, WORKOS_SIGNATURE_HEADER } from './signature.js';

const PROVIDER = 'WORKOS' as const;

export interface WorkosOptions {
  /** Webhook endpoint secrets; several while one is being rotated. */
  secrets: string[];
  toleranceSeconds: number;
}

/** Every event the directory reads, and what it becomes. */
export const WORKOS_EVENTS = [
  'organization.created',
  'organization.updated',
  'organization.deleted',
  'connection.activated',
  'connection.deactivated',
  'connection.deleted',
  'dsync.activated',
  'dsync.deleted',
  'dsync.user.created',
  'dsync.user.updated',
  'dsync.user.deleted',
  'dsync.group.created',
  'dsync.group.updated',
  'dsync.group.deleted',
  'dsync.group.user_added',
  'dsync.group.user_removed',
] as const;
type WorkosEvent = (typeof WORKOS_EVENTS)[number];
const isKnown = (event: string): event is WorkosEvent => (WORKOS_EVENTS as readonly string[]).includes(event);

export function createWorkosSource(options: WorkosOptions): SourceAdapter {
  const secrets = options.secrets;
  const { toleranceSeconds } = options;

  function verify({ headers, body, now }: Parameters<SourceAdapter['verify']>[0]): Verification {
    if (secrets.length === 0) {
      return { ok: false, reason: 'WorkOS webhooks are not configured here (set WORKOS_WEBHOOK_SECRET)' };
    }
    const value = header(headers, WORKOS_SIGNATURE_HEADER);
    if (!value) return { ok: false, reason: 'missing WorkOS-Signature header' };
    const parsed = parseWorkosSignatureHeader(value);
    if (!parsed) return { ok: false, reason: 'malformed WorkOS-Signature header: expected "t=<unix ms>, v1=<hex>"' };
    // Both directions: the SDK refuses only old signatures; one from the future is as suspect.
    const late = outsideWindow(now, parsed.timestampMs, toleranceSeconds);
    if (late) return { ok: false, reason: late };
    if (!signedByAny(parsed, secrets, body)) return { ok: false, reason: 'signature does not match' };
    return { ok: true, verified: { keys: [deliveryKey(body)], signedAt: new Date(parsed.timestampMs) } };
  }

  function parse(payload: unknown, verified: Verified): Delivery {
    const delivery = { source: 'workos', keys: verified.keys, signedAt: verified.signedAt };
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
      return { ...delivery, body: redact(payload as Json), events: [{ type: '', changes: [], rejected: 'body: expected a JSON object' }] };
    }
    const body = redact(payload as Json) as { [key: string]: Json };
    const type = typeof body.event === 'string' ? body.event : '';
    const result = normalise(body, type, verified.signedAt, toleranceSeconds);
    const event: InboundEvent = result.ok ? result.event : { type, changes: [], rejected: result.error };
    return { ...delivery, body, events: [event] };
  }

  // An event's organization is on its data (an organization event's data is the organization).
  function organizationNamed(payload: unknown): string | undefined {
    const data = (payload as { data?: unknown } | null)?.data;
    const d = (data !== null && typeof data === 'object' ? data : {}) as Record<string, unknown>;
    if (typeof d.organization_id === 'string') return d.organization_id;
    return typeof d.object === 'string' && d.object === 'organization' && typeof d.id === 'string' ? d.id : undefined;
  }

  return { name: 'workos', provider: PROVIDER, publicRaw: workosPublicRaw, configured: secrets.length > 0, verify, parse, tenantOf: organizationNamed };
}

/**
 * The event `id` (signed, in the body) is the key: WorkOS's retries resend it. A body without
 * one (it will be rejected, but is stored) is keyed by its bytes.
 */
function deliveryKey(body: Buffer): string {
  try {
    const id = (JSON.parse(body.toString('utf8')) as { id?: unknown } | null)?.id;
    // An id no text column can hold (a NUL, half a surrogate pair) keys by the body instead.
    if (typeof id === 'string' && id !== '' && id.length <= MAX_ID_LENGTH && unstorable(id) === undefined) return `workos:${id}`;
  } catch {
    // Not JSON: parse() says so; the key is the body's hash.
  }
  return `workos-body:${createHash('sha256').update(body).digest('hex')}`;
}

type Normalised = { ok: true; event: InboundEvent } | { ok: false; error: string };

/** What WorkOS's list and get routes answer, as reconciliation reads them. */
export type WorkosListedKind = 'organization' | 'connection' | 'directory' | 'directory_user' | 'directory_group' | 'membership';

const LISTED_AS: Record<WorkosListedKind, WorkosEvent> = {
  organization: 'organization.updated',
  connection: 'connection.activated',
  directory: 'dsync.activated',
  directory_user: 'dsync.user.updated',
  directory_group: 'dsync.group.updated',
  membership: 'dsync.group.user_added',
};

/**
 * An object as WorkOS's API lists it (the object its events carry) read as the event that would
 * say it is so, by the code that reads webhooks: its version is its own `updated_at`, as an
 * event's is, so a reconciled object that did not change is the same as the stored one. `readAt`
 * stands in for an envelope's time (what a membership, which has none of its own, is ordered by),
 * and `clockSkewSeconds` is how far ahead of it WorkOS's clock may be.
 * A connection or a directory takes its status from its `state`: an event names the state it
 * moved to, a listing only which one it is in. Undefined for what the directory does not hold
 * (a connection that is neither SAML nor OIDC) or cannot read.
 */
export function readListedObject(kind: WorkosListedKind, object: { [key: string]: Json }, readAt: Date, clockSkewSeconds = 300): InboundEvent | undefined {
  const type = LISTED_AS[kind];
  const body: { [key: string]: Json } = { object: 'event', id: 'listed', event: type, data: object, created_at: readAt.toISOString() };
  const result = normalise(body, type, readAt, clockSkewSeconds);
  if (!result.ok || result.event.changes.length === 0) return undefined;
  if (kind !== 'connection' && kind !== 'directory') return result.event;
  const state = typeof object.state === 'string' ? object.state : null;
  const status = kind === 'connection' ? connectionStatus(state) : directoryStatus(state);
  return {
    ...result.event,
    changes: result.event.changes.map((c) => (c.entity === 'CONNECTION' && c.data ? ({ ...c, data: { ...c.data, status } } as DirectoryChange) : c)),
  };
}

/**
 * An event read from WorkOS's Events API: the delivery its webhook would have been, keyed by the
 * event id as a webhook is (so one that did arrive makes this a duplicate). `readAt` stands in
 * for the signature's time.
 */
export function readLoggedEvent(event: { [key: string]: Json }, readAt: Date, clockSkewSeconds = 300): Delivery {
  const id = typeof event.id === 'string' ? event.id : '';
  const body = redact(event as Json) as { [key: string]: Json };
  const type = typeof body.event === 'string' ? body.event : '';
  const result = normalise(body, type, readAt, clockSkewSeconds);
  return {
    source: 'workos',
    keys: [`workos:${id}`],
    signedAt: readAt,
    body,
    events: [result.ok ? result.event : { type, changes: [], rejected: result.error }],
  };
}

const tenantOf = (organizationId: string): TenantRef => ({ provider: PROVIDER, externalId: organizationId, product: '' });
const keyOf = (externalId: string): EntityKey => ({ provider: PROVIDER, externalId });

/** An event time that cannot order anything: the event is rejected with this reason. */
class UnbelievableTime extends Error {}

function normalise(body: { [key: string]: Json }, type: string, signedAt: Date, toleranceSeconds: number): Normalised {
  try {
    return normaliseEvent(body, type, signedAt, toleranceSeconds);
  } catch (error) {
    if (error instanceof UnbelievableTime) return { ok: false, error: error.message };
    throw error;
  }
}

function normaliseEvent(body: { [key: string]: Json }, type: string, signedAt: Date, toleranceSeconds: number): Normalised {
  if (type !== '' && !isKnown(type)) return { ok: true, event: { type, changes: [], ignored: `event ${type} is not held in the directory` } };
  const envelope = envelopeSchema.safeParse(body);
  if (!envelope.success) return { ok: false, error: describeZodError(envelope.error) };
  const event = envelope.data.event as WorkosEvent;
  // The envelope's data, without what the object was before an update.
  const { previous_attributes: _previous, ...data } = envelope.data.data as { [key: string]: Json };
  const timeOf = (object: { updated_at?: string | null }): Version => {
    const text = object.updated_at || envelope.data.created_at;
    if (!text) return makeVersion(nanosFromMillis(signedAt.getTime()));
    const field = object.updated_at ? 'data.updated_at' : 'created_at';
    const nanos = parseRfc3339Nanos(text);
    if (nanos === undefined) throw new UnbelievableTime(`${field}: must be an RFC 3339 timestamp`);
    // Signed when sent, after it happened: a time further ahead than the clock tolerance is
    // not believed (it would outrank every real event of the object while it lies ahead).
    if (nanos > nanosFromMillis(signedAt.getTime() + toleranceSeconds * 1000)) {
      throw new UnbelievableTime(`${field}: more than ${toleranceSeconds} s after the signature's time; not believed`);
    }
    if (nanos < 0n) throw new UnbelievableTime(`${field}: before 1970; not believed`);
    return makeVersion(nanos);
  };
  const done = (changes: DirectoryChange[], warnings: Warnings = []): Normalised => ({
    ok: true,
    event: warnings.length > 0 ? { type, changes, warnings } : { type, changes },
  });
  const invalid = (error: z.ZodError): Normalised => ({ ok: false, error: describeZodError(error, ['data']) });

  switch (event) {
    case 'organization.created':
    case 'organization.updated':
    case 'organization.deleted': {
      const p = organizationSchema.safeParse(data);
      if (!p.success) return invalid(p.error);
      const version = timeOf(p.data);
      const key = { provider: PROVIDER, externalId: p.data.id, product: '' };
      const tenant = { name: p.data.name || null, slug: null, raw: data };
      return done([{ entity: 'TENANT', op: event === 'organization.deleted' ? 'delete' : 'upsert', key, version, data: tenant }]);
    }
    case 'connection.activated':
    case 'connection.deactivated':
    case 'connection.deleted': {
      const p = connectionSchema.safeParse(data);
      if (!p.success) return invalid(p.error);
      const kind = ssoKind(p.data.connection_type);
      if (!kind) {
        return { ok: true, event: { type, changes: [], ignored: `connection type ${p.data.connection_type ?? '(none)'} is not a SAML or OIDC connection` } };
      }
      const version = timeOf(p.data);
      // The event names the state it moved to; the object's `state` says the same when sent.
      const status: ConnectionStatus = event === 'connection.activated' ? 'ACTIVE' : event === 'connection.deactivated' ? 'INACTIVE' : connectionStatus(p.data.state);
      return done([
        {
          entity: 'CONNECTION',
          op: event === 'connection.deleted' ? 'delete' : 'upsert',
          key: { ...keyOf(p.data.id), kind },
          version,
          data: { tenant: tenantOf(p.data.organization_id), kind, status, name: p.data.name || null, raw: data },
        },
      ]);
    }
    case 'dsync.activated':
    case 'dsync.deleted': {
      const p = directorySchema.safeParse(data);
      if (!p.success) return invalid(p.error);
      const version = timeOf(p.data);
      const status: ConnectionStatus = event === 'dsync.activated' ? 'ACTIVE' : directoryStatus(p.data.state);
      return done([
        {
          entity: 'CONNECTION',
          op: event === 'dsync.deleted' ? 'delete' : 'upsert',
          key: { ...keyOf(p.data.id), kind: 'DIRECTORY' },
          version,
          data: { tenant: tenantOf(p.data.organization_id), kind: 'DIRECTORY', status, name: p.data.name || null, raw: data },
        },
      ]);
    }
    case 'dsync.user.created':
    case 'dsync.user.updated':
    case 'dsync.user.deleted': {
      const p = directoryUserSchema.safeParse(data);
      if (!p.success) return invalid(p.error);
      const version = timeOf(p.data);
      const warnings: Warnings = [];
      const member = memberData(p.data, data, warnings, 'data');
      return done([{ entity: 'MEMBER', op: event === 'dsync.user.deleted' ? 'delete' : 'upsert', key: keyOf(p.data.id), version, data: member }], warnings);
    }
    case 'dsync.group.created':
    case 'dsync.group.updated':
    case 'dsync.group.deleted': {
      const p = directoryGroupSchema.safeParse(data);
      if (!p.success) return invalid(p.error);
      const version = timeOf(p.data);
      const warnings: Warnings = [];
      const group = {
        tenant: tenantOf(p.data.organization_id),
        directory: keyOf(p.data.directory_id),
        name: readText(p.data.name, 'data.name', warnings),
        raw: data,
      };
      return done([{ entity: 'GROUP', op: event === 'dsync.group.deleted' ? 'delete' : 'upsert', key: keyOf(p.data.id), version, data: group }], warnings);
    }
    case 'dsync.group.user_added':
    case 'dsync.group.user_removed': {
      const p = membershipSchema.safeParse(data);
      if (!p.success) return invalid(p.error);
      // The membership has no time of its own: the user's and group's `updated_at` are theirs.
      const version = timeOf({});
      const { user, group } = p.data;
      const rawUser = (data.user ?? null) as { [key: string]: Json } | null;
      const rawGroup = (data.group ?? null) as Json;
      const warnings: Warnings = [];
      const tenant = tenantOf(group.organization_id);
      const userKey = keyOf(user.id);
      const groupKey = keyOf(group.id);
      return done(
        [
          { entity: 'MEMBER', op: 'snapshot', key: userKey, version, data: memberData(user, rawUser, warnings, 'data.user') },
          {
            entity: 'GROUP',
            op: 'snapshot',
            key: groupKey,
            version,
            data: { tenant, directory: keyOf(group.directory_id), name: readText(group.name, 'data.group.name', warnings), raw: rawGroup },
          },
          {
            entity: 'MEMBERSHIP',
            op: event === 'dsync.group.user_removed' ? 'delete' : 'upsert',
            // WorkOS memberships have no id of their own: the pair is the identity.
            key: keyOf(`${encodeURIComponent(group.id)}/${encodeURIComponent(user.id)}`),
            version,
            data: { tenant, group: groupKey, member: userKey, raw: null },
          },
        ],
        warnings,
      );
    }
  }
}

type DirectoryUser = z.infer<typeof directoryUserSchema>;

function memberData(user: DirectoryUser, raw: Json, warnings: Warnings, path: string): MemberData {
  const firstName = readText(user.first_name, `${path}.first_name`, warnings);
  const lastName = readText(user.last_name, `${path}.last_name`, warnings);
  // `email` on current payloads; older ones carry SCIM's `emails` list, or only `username`.
  const email =
    readEmail(user.email, `${path}.email`, warnings) ??
    readEmail(user.emails, `${path}.emails`, warnings) ??
    (typeof user.username === 'string' && user.username.includes('@') ? readEmail(user.username, `${path}.username`, warnings) : null);
  return {
    tenant: tenantOf(user.organization_id),
    directory: keyOf(user.directory_id),
    email,
    name: [firstName, lastName].filter((n) => n !== null).join(' ') || null,
    firstName,
    lastName,
    status: memberStatus(user.state, `${path}.state`, warnings),
    roles: roles(user, path, warnings),
    raw,
  };
}

/** `roles: [{slug}]` (several), else `role: {slug}` (the primary one). */
function roles(user: DirectoryUser, path: string, warnings: Warnings): string[] {
  const slug = (r: unknown) => (r !== null && typeof r === 'object' && !Array.isArray(r) && 'slug' in r ? (r as { slug: unknown }).slug : r);
  if (Array.isArray(user.roles)) return readRoles(user.roles.map(slug), `${path}.roles`, warnings);
  if (user.role !== undefined && user.role !== null) return readRoles([slug(user.role)], `${path}.role`, warnings);
  return [];
}

/**
 * `active` and `inactive` are WorkOS's states (`suspended` on some directories). An unknown
 * or unreadable state is inactive: an account whose state is unknown is not let in.
 */
function memberStatus(state: unknown, path: string, warnings: Warnings): MemberStatus {
  if (state === undefined || state === null) return 'ACTIVE';
  if (typeof state === 'string' && state.toLowerCase() === 'active') return 'ACTIVE';
  if (typeof state !== 'string' || !['inactive', 'suspended'].includes(state.toLowerCase())) {
    warnings.push(`${path}: ${JSON.stringify(state)} is not a state WorkOS documents; the member is taken as inactive`);
  }
  return 'INACTIVE';
}

/** SAML or OIDC from WorkOS's connection types (`OktaSAML`, `GenericOIDC`, `GoogleOAuth`...). */
function ssoKind(type: string | null | undefined): ConnectionKind | undefined {
  if (!type) return undefined;
  if (/saml/i.test(type)) return 'SAML';
  if (/oidc|oauth/i.test(type)) return 'OIDC';
  return undefined;
}

function connectionStatus(state: string | null | undefined): ConnectionStatus {
  switch ((state ?? '').toLowerCase()) {
    case 'active':
      return 'ACTIVE';
    case 'draft':
    case 'validating':
    case '':
      return 'PENDING';
    default:
      // Never report an unrecognised state as usable.
      return 'INACTIVE';
  }
}

function directoryStatus(state: string | null | undefined): ConnectionStatus {
  switch ((state ?? '').toLowerCase()) {
    case 'active':
    case 'linked':
      return 'ACTIVE';
    case 'validating':
    case '':
      return 'PENDING';
    default:
      return 'INACTIVE';
  }
}
