// Ory Polis adapter: verifies the signature headers, validates events (single or batch) and
// maps them onto directory changes:
//   sso.*    -> connection (SAML, or OIDC when the event has no friendlyProviderName key)
//   dsync.*  -> DIRECTORY connection
//   user.*   -> member of the directory `directory_id`; active:false means INACTIVE
//   group.*  -> group; group.user_added/removed -> membership, plus the user and group the
//               event embeds as snapshots (they fill in data, never override the objects' own)
import type { z } from 'zod';
import { sha256Hex } from '../../lib/hash.js';
import { redact } from '../../lib/redact.js';
import { makeVersion, nanosFromMillis } from '../../directory/version.js';
import type {
  ConnectionKind,
  DirectoryChange,
  EntityKey,
  InboundEvent,
  Json,
  MemberData,
  TenantRef,
  Version,
} from '../../directory/types.js';
import { header, type Parse, type SourceAdapter, type Verification, type Verified } from '../types.js';
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

  function parse(payload: unknown, verified: Verified): Parse {
    const batch = Array.isArray(payload);
    const items: unknown[] = batch ? payload : [payload];
    if (items.length === 0) return { ok: false, error: 'body: an empty batch holds no events' };

    const events: InboundEvent[] = [];
    for (const [position, item] of items.entries()) {
      const prefix = batch ? [position] : [];
      const result = normaliseEvent(
        redact(item as Json),
        makeVersion(nanosFromMillis(verified.signedAt.getTime()), position),
      );
      if (!result.ok) return { ok: false, error: describeZodError(result.error, prefix) };
      events.push(result.event);
    }
    return {
      ok: true,
      delivery: {
        source: 'polis',
        keys: verified.keys,
        signedAt: verified.signedAt,
        body: redact(payload as Json),
        events,
      },
    };
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
    // Polis includes friendlyProviderName (possibly null) for SAML and leaves it out for OIDC.
    const kind: ConnectionKind = 'friendlyProviderName' in d ? 'SAML' : 'OIDC';
    const change: DirectoryChange = {
      entity: 'CONNECTION',
      op,
      key: { provider: PROVIDER, externalId: d.clientID, kind },
      version,
      data: {
        tenant,
        kind,
        status,
        name: d.name || d.friendlyProviderName || d.provider || null,
        raw: rawData as Json,
      },
    };
    return { ok: true, event: { type, changes: [change] } };
  }
  const parsed = dsyncDataSchema.safeParse(rawData);
  if (!parsed.success) return { ok: false, error: withPrefix(parsed.error) };
  const change: DirectoryChange = {
    entity: 'CONNECTION',
    op,
    key: { provider: PROVIDER, externalId: parsed.data.id, kind: 'DIRECTORY' },
    version,
    data: { tenant, kind: 'DIRECTORY', status, name: parsed.data.name || null, raw: rawData as Json },
  };
  return { ok: true, event: { type, changes: [change] } };
}

function memberData(
  d: z.infer<typeof userDataSchema>,
  raw: Json,
  tenant: TenantRef,
  directory: EntityKey,
): MemberData {
  const firstName = d.first_name || null;
  const lastName = d.last_name || null;
  return {
    tenant,
    directory,
    email: d.email || null,
    name: [firstName, lastName].filter(Boolean).join(' ') || null,
    firstName,
    lastName,
    status: d.active ? 'ACTIVE' : 'INACTIVE',
    roles: d.roles,
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
function objectEvent(e: DirectoryEvent, change: Pick<DirectoryChange, 'entity' | 'key' | 'data'>): Normalised {
  const op = e.action === 'deleted' ? 'delete' : 'upsert';
  return { ok: true, event: { type: e.type, changes: [{ ...change, op, version: e.version } as DirectoryChange] } };
}

function userEvent(e: DirectoryEvent): Normalised {
  const parsed = userDataSchema.safeParse(e.data);
  if (!parsed.success) return { ok: false, error: withPrefix(parsed.error) };
  return objectEvent(e, {
    entity: 'MEMBER',
    key: { provider: PROVIDER, externalId: parsed.data.id },
    data: memberData(parsed.data, e.data, e.tenant, e.directory),
  });
}

function groupEvent(e: DirectoryEvent): Normalised {
  const parsed = groupDataSchema.safeParse(e.data);
  if (!parsed.success) return { ok: false, error: withPrefix(parsed.error) };
  return objectEvent(e, {
    entity: 'GROUP',
    key: { provider: PROVIDER, externalId: parsed.data.id },
    data: { tenant: e.tenant, directory: e.directory, name: parsed.data.name || null, raw: e.data },
  });
}

function membershipEvent({ type, action, data, tenant, directory, version }: DirectoryEvent): Normalised {
  const parsed = membershipDataSchema.safeParse(data);
  if (!parsed.success) return { ok: false, error: withPrefix(parsed.error) };
  const { group, ...user } = parsed.data;
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
      data: memberData(user, rawUser, tenant, directory),
    },
    {
      entity: 'GROUP',
      op: 'snapshot',
      key: groupKey,
      version,
      data: { tenant, directory, name: group.name || null, raw: rawGroup },
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
  return { ok: true, event: { type, changes } };
}
