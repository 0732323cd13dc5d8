// Ory Polis adapter: verifies the signature headers, reads events (single or batch, item by
// item: one it cannot read is rejected on its own) and maps them onto directory changes:
//   sso.*    -> connection (SAML, or OIDC when the event has no friendlyProviderName key)
//   dsync.*  -> DIRECTORY connection (its delete ends what it provisioned: see the core)
//   user.*   -> member of the directory `directory_id`; active:false means INACTIVE
// Only ids are required; every other field is read leniently (../lenient.ts).
//   group.*  -> group; group.user_added/removed -> membership, plus the user and group the
//               event embeds as snapshots (they fill in data, never override the objects' own)
import type { z } from 'zod';
import { sha256Hex } from '../../lib/hash.js';
import { redact } from '../../lib/redact.js';
import { makeVersion, nanosFromMillis } from '../../directory/version.js';
import type {
  ConnectionKind,
  Delivery,
  DirectoryChange,
  EntityKey,
  InboundEvent,
  Json,
  MemberData,
  TenantRef,
  Version,
} from '../../directory/types.js';
import { header, type SourceAdapter, type Verification, type Verified } from '../types.js';
import { readActive, readEmail, readRoles, readText, type Warnings } from '../lenient.js';
import { describeZodError } from '../zod-error.js';
import {
  connectionEventSchema,
  directoryEventSchema,
  dsyncDataSchema,
  envelopeSchema,
  groupDataSchema,
  membershipDataSchema,
  POLIS_EVENT_TYPES,
  ssoDataSchema,
  userDataSchema,
  type PolisEventType,
} from './events.js';
import {
  matchesAnySecret,
  parsePolisSignatureHeader,
  POLIS_SIGNATURE_HEADERS,
} from './signature.js';

const PROVIDER = 'POLIS' as const;

export interface PolisOptions {
  secrets: string[];
  toleranceSeconds: number;
}

export function createPolisSource(options: PolisOptions): SourceAdapter {
  const { secrets, toleranceSeconds } = options;

  function verify({ headers, body, now }: Parameters<SourceAdapter['verify']>[0]): Verification {
    if (secrets.length === 0) {
      return { ok: false, reason: 'Polis webhooks are not configured here (set POLIS_WEBHOOK_SECRET)' };
    }
    const present = POLIS_SIGNATURE_HEADERS.flatMap((name) => {
      const value = header(headers, name);
      return value === undefined ? [] : [{ name, value }];
    });
    if (present.length === 0) {
      return { ok: false, reason: 'missing signature header (Ory-Polis-Signature or BoxyHQ-Signature)' };
    }

    // Each header is signed separately (their t may differ by a millisecond); any valid one
    // authenticates the body. Every valid one becomes a delivery key, so a replay that drops
    // one of the headers is still recognised as a duplicate. Keys are scoped by header name:
    // otherwise the same body sent twice a millisecond apart, signed (t, t+1) and (t+1, t+2),
    // would share a key and the second, a real event, would be dropped as a duplicate. The
    // price: a replay that moves one header's value under the other name is not recognised;
    // within the time window it can only re-assert the same data a millisecond later.
    const valid: { name: string; t: number }[] = [];
    let reason = 'malformed signature header: expected t=<unix ms>,s=<hex>';
    for (const { name, value } of present) {
      const parsed = parsePolisSignatureHeader(value);
      if (!parsed) continue;
      if (Math.abs(now.getTime() - parsed.timestampMs) > toleranceSeconds * 1000) {
        reason = `signature timestamp is outside the ${toleranceSeconds} s window`;
        continue;
      }
      if (!matchesAnySecret(parsed, secrets, body)) {
        if (!reason.startsWith('signature timestamp')) reason = 'signature does not match';
        continue;
      }
      valid.push({ name, t: parsed.timestampMs });
    }
    if (valid.length === 0) return { ok: false, reason };

    // Polis has no event id; its retries resend the same headers and body.
    const keys = valid.map(
      ({ name, t }) => `polis:${sha256Hex(Buffer.concat([Buffer.from(`${name}\n${t}.`), body]))}`,
    );
    return { ok: true, verified: { keys, signedAt: new Date(Math.min(...valid.map((v) => v.t))) } };
  }

  function parse(payload: unknown, verified: Verified): Delivery {
    const batch = Array.isArray(payload);
    const items: unknown[] = batch ? payload : [payload];
    const delivery = { source: 'polis', keys: verified.keys, signedAt: verified.signedAt, body: redact(payload as Json) };
    if (items.length === 0) {
      return { ...delivery, events: [{ type: '', changes: [], rejected: 'body: an empty batch holds no events' }] };
    }
    // Item by item: one that cannot be read is rejected on its own, the others are applied.
    const events = items.map((item, position): InboundEvent => {
      const result = normaliseEvent(redact(item as Json), makeVersion(nanosFromMillis(verified.signedAt.getTime()), position));
      if (result.ok) return result.event;
      return { type: typeOf(item), changes: [], rejected: describeZodError(result.error, batch ? [position] : []) };
    });
    return { ...delivery, events };
  }

  return { name: 'polis', configured: secrets.length > 0, verify, parse };
}

type Normalised = { ok: true; event: InboundEvent } | { ok: false; error: z.ZodError };

function normaliseEvent(item: Json, version: Version): Normalised {
  const envelope = envelopeSchema.safeParse(item);
  if (!envelope.success) return { ok: false, error: envelope.error };
  const type = envelope.data.event;
  if (!isKnown(type)) {
    return { ok: true, event: { type, changes: [], ignored: 'unknown Polis event type' } };
  }
  const tenant: TenantRef = {
    provider: PROVIDER,
    externalId: envelope.data.tenant,
    product: envelope.data.product,
    // Polis has no tenant events: (tenant, product) is all there is to know.
    implied: { name: envelope.data.tenant, slug: envelope.data.tenant },
  };
  const [group, action] = type.split('.') as [string, string];

  if (group === 'sso' || group === 'dsync') {
    const event = connectionEventSchema.safeParse(item);
    if (!event.success) return { ok: false, error: event.error };
    return connectionEvent(type, group, action, event.data.data, tenant, version);
  }

  const event = directoryEventSchema.safeParse(item);
  if (!event.success) return { ok: false, error: event.error };
  if (event.data.data === undefined || event.data.data === null) {
    return {
      ok: true,
      event: { type, changes: [], ignored: 'event has no data (Polis could not look the object up)' },
    };
  }
  const directoryEvent: DirectoryEvent = {
    type,
    action,
    data: event.data.data as Json,
    tenant,
    directory: { provider: PROVIDER, externalId: event.data.directory_id },
    version,
  };
  if (group === 'user') return userEvent(directoryEvent);
  if (action === 'user_added' || action === 'user_removed') return membershipEvent(directoryEvent);
  return groupEvent(directoryEvent);
}

/** The `event` an unreadable item names, if it names one. */
function typeOf(item: unknown): string {
  const event = (item as { event?: unknown } | null)?.event;
  return typeof event === 'string' ? event.slice(0, 100) : '';
}

function isKnown(type: string): type is PolisEventType {
  return (POLIS_EVENT_TYPES as readonly string[]).includes(type);
}

const withPrefix = (error: z.ZodError): z.ZodError => {
  for (const issue of error.issues) issue.path.unshift('data');
  return error;
};

function connectionEvent(
  type: string,
  group: string,
  action: string,
  rawData: unknown,
  tenant: TenantRef,
  version: Version,
): Normalised {
  const op = action === 'deleted' ? 'delete' : 'upsert';
  const status = action === 'deactivated' || action === 'deleted' ? 'INACTIVE' : 'ACTIVE';
  if (group === 'sso') {
    const parsed = ssoDataSchema.safeParse(rawData);
    if (!parsed.success) return { ok: false, error: withPrefix(parsed.error) };
    const d = parsed.data;
    const warnings: Warnings = [];
    // Polis includes friendlyProviderName (possibly null) for SAML and leaves it out for OIDC.
    const kind: ConnectionKind = 'friendlyProviderName' in d ? 'SAML' : 'OIDC';
    const name =
      readText(d.name, 'data.name', warnings) ||
      readText(d.friendlyProviderName, 'data.friendlyProviderName', warnings) ||
      readText(d.provider, 'data.provider', warnings);
    const change: DirectoryChange = {
      entity: 'CONNECTION',
      op,
      key: { provider: PROVIDER, externalId: d.clientID, kind },
      version,
      data: {
        tenant,
        kind,
        status,
        name: name || null,
        raw: rawData as Json,
      },
    };
    return { ok: true, event: withWarnings({ type, changes: [change] }, warnings) };
  }
  const parsed = dsyncDataSchema.safeParse(rawData);
  if (!parsed.success) return { ok: false, error: withPrefix(parsed.error) };
  const warnings: Warnings = [];
  const change: DirectoryChange = {
    entity: 'CONNECTION',
    op,
    key: { provider: PROVIDER, externalId: parsed.data.id, kind: 'DIRECTORY' },
    version,
    data: { tenant, kind: 'DIRECTORY', status, name: readText(parsed.data.name, 'data.name', warnings), raw: rawData as Json },
  };
  return { ok: true, event: withWarnings({ type, changes: [change] }, warnings) };
}

const withWarnings = (event: InboundEvent, warnings: Warnings): InboundEvent =>
  warnings.length > 0 ? { ...event, warnings } : event;

/** A Polis user's fields, read leniently; `path` is where the user sits in the event. */
function memberData(
  d: Record<string, unknown>,
  raw: Json,
  tenant: TenantRef,
  directory: EntityKey,
  warnings: Warnings,
): MemberData {
  const firstName = readText(d.first_name, 'data.first_name', warnings);
  const lastName = readText(d.last_name, 'data.last_name', warnings);
  return {
    tenant,
    directory,
    email: readEmail(d.email, 'data.email', warnings),
    name: [firstName, lastName].filter(Boolean).join(' ') || null,
    firstName,
    lastName,
    status: readActive(d.active, 'data.active', warnings) ? 'ACTIVE' : 'INACTIVE',
    roles: readRoles(d.roles, 'data.roles', warnings),
    raw,
  };
}

/** What every directory data event (user.*, group.*) carries besides its data. */
interface DirectoryEvent {
  type: string;
  action: string;
  data: Json;
  tenant: TenantRef;
  directory: EntityKey;
  version: Version;
}

/** user.* and group.*: one change to one object, deleted by `<kind>.deleted`. */
function objectEvent(
  e: DirectoryEvent,
  change: Pick<DirectoryChange, 'entity' | 'key' | 'data'>,
  warnings: Warnings,
): Normalised {
  const op = e.action === 'deleted' ? 'delete' : 'upsert';
  const event = { type: e.type, changes: [{ ...change, op, version: e.version } as DirectoryChange] };
  return { ok: true, event: withWarnings(event, warnings) };
}

function userEvent(e: DirectoryEvent): Normalised {
  const parsed = userDataSchema.safeParse(e.data);
  if (!parsed.success) return { ok: false, error: withPrefix(parsed.error) };
  const warnings: Warnings = [];
  const data = memberData(parsed.data, e.data, e.tenant, e.directory, warnings);
  return objectEvent(e, { entity: 'MEMBER', key: { provider: PROVIDER, externalId: parsed.data.id }, data }, warnings);
}

function groupEvent(e: DirectoryEvent): Normalised {
  const parsed = groupDataSchema.safeParse(e.data);
  if (!parsed.success) return { ok: false, error: withPrefix(parsed.error) };
  const warnings: Warnings = [];
  const name = readText(parsed.data.name, 'data.name', warnings);
  return objectEvent(
    e,
    { entity: 'GROUP', key: { provider: PROVIDER, externalId: parsed.data.id }, data: { tenant: e.tenant, directory: e.directory, name, raw: e.data } },
    warnings,
  );
}

function membershipEvent({ type, action, data, tenant, directory, version }: DirectoryEvent): Normalised {
  const parsed = membershipDataSchema.safeParse(data);
  if (!parsed.success) return { ok: false, error: withPrefix(parsed.error) };
  const { group, ...user } = parsed.data;
  const warnings: Warnings = [];
  const groupName = readText(group.name, 'data.group.name', warnings);
  const rawObject = data as { [key: string]: Json };
  const { group: rawGroup = null, ...rawUser } = rawObject;
  const member: EntityKey = { provider: PROVIDER, externalId: user.id };
  const groupKey: EntityKey = { provider: PROVIDER, externalId: group.id };

  const changes: DirectoryChange[] = [
    {
      entity: 'MEMBER',
      op: 'snapshot',
      key: member,
      version,
      data: memberData(user, rawUser, tenant, directory, warnings),
    },
    {
      entity: 'GROUP',
      op: 'snapshot',
      key: groupKey,
      version,
      data: { tenant, directory, name: groupName, raw: rawGroup },
    },
    {
      entity: 'MEMBERSHIP',
      op: action === 'user_removed' ? 'delete' : 'upsert',
      // Polis memberships have no id of their own: the pair is the identity.
      key: {
        provider: PROVIDER,
        externalId: `${encodeURIComponent(group.id)}/${encodeURIComponent(user.id)}`,
      },
      version,
      data: { tenant, group: groupKey, member, raw: null },
    },
  ];
  return { ok: true, event: withWarnings({ type, changes }, warnings) };
}
