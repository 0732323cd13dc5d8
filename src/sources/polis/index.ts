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
import { describeZodError } from '../../lib/zod-error.js';
import { outsideWindow } from '../signing-window.js';
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
import type { ScopedSecret } from '../../config.js';
import {
  matchingSecrets,
  parsePolisSignatureHeader,
  POLIS_SIGNATURE_HEADERS,
} from './signature.js';
import { polisPublicRaw } from './public-raw.js';
import { truncate } from '../../lib/truncate.js';

const PROVIDER = 'POLIS' as const;

export interface PolisOptions {
  /** Secrets that may write any tenant (Polis's global webhook secret signs every tenant's events). */
  secrets: string[];
  /** Secrets that may write only their own tenant (product, directory): a directory's own secret. */
  scopedSecrets?: ScopedSecret[];
  toleranceSeconds: number;
}

export function createPolisSource(options: PolisOptions): SourceAdapter {
  const { secrets, toleranceSeconds } = options;
  const scopedSecrets = options.scopedSecrets ?? [];
  const allSecrets = [...secrets, ...scopedSecrets.map((s) => s.secret)];

  function verify({ headers, body, now }: Parameters<SourceAdapter['verify']>[0]): Verification {
    if (allSecrets.length === 0) {
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
    // authenticates the body. Each valid signing time, whatever header carried it, is a
    // delivery key: a replay that drops a header, or moves one header's value under the other
    // name, repeats only keys already stored and is a duplicate (see claim() in the store:
    // a delivery is a repeat when all its keys are known, new when any is).
    const valid: { t: number }[] = [];
    let reason = 'malformed signature header: expected t=<unix ms>,s=<hex>';
    let unscoped = false;
    const scopes = new Set<ScopedSecret>();
    for (const { value } of present) {
      const parsed = parsePolisSignatureHeader(value);
      if (!parsed) continue;
      const late = outsideWindow(now, parsed.timestampMs, toleranceSeconds);
      if (late) {
        reason = late;
        continue;
      }
      // Every secret is tried whatever matches, so timing does not tell which kind signed.
      const matched = matchingSecrets(parsed, allSecrets, body);
      if (matched.length === 0) {
        if (!reason.startsWith('signature timestamp')) reason = 'signature does not match';
        continue;
      }
      if (matched.some((i) => i < secrets.length)) unscoped = true;
      for (const i of matched) if (i >= secrets.length) scopes.add(scopedSecrets[i - secrets.length]!);
      valid.push({ t: parsed.timestampMs });
    }
    if (valid.length === 0) return { ok: false, reason };

    // Polis has no event id; its retries resend the same headers and body.
    const keys = [...new Set(valid.map((v) => v.t))].map((t) => `polis:${sha256Hex(Buffer.concat([Buffer.from(`${t}.`), body]))}`);
    const signedAt = new Date(Math.min(...valid.map((v) => v.t)));
    if (unscoped) return { ok: true, verified: { keys, signedAt } };
    return { ok: true, verified: { keys, signedAt, outsideScope: (payload) => outsideScopes(payload, [...scopes]) } };
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

  return { name: 'polis', provider: PROVIDER, publicRaw: polisPublicRaw, configured: secrets.length > 0, verify, parse, tenantOf };
}

export type Normalised = { ok: true; event: InboundEvent } | { ok: false; error: z.ZodError };

/** Reads one Polis event (as a webhook carries it) at `version`: webhooks and reconciliation alike. */
export function normaliseEvent(item: Json, version: Version): Normalised {
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
  // Polis ids are trusted only within the tenant and product an event names: an event can
  // then only ever touch that tenant's objects, whatever ids it carries.
  const scope = polisScope(envelope.data.tenant, envelope.data.product);
  const [group, action] = type.split('.') as [string, string];

  if (group === 'sso' || group === 'dsync') {
    const event = connectionEventSchema.safeParse(item);
    if (!event.success) return { ok: false, error: event.error };
    return connectionEvent(type, group, action, event.data.data, tenant, scope, version);
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
    scope,
    directory: { provider: PROVIDER, scope, externalId: event.data.directory_id },
    version,
  };
  if (group === 'user') return userEvent(directoryEvent);
  if (action === 'user_added' || action === 'user_removed') return membershipEvent(directoryEvent);
  return groupEvent(directoryEvent);
}

/**
 * Why a delivery signed only by scoped secrets reaches beyond their scopes, if it does: every
 * item must name a tenant (and product, and directory) one of them covers. Polis sends a
 * directory's user and group events with that directory's secret, and a batch holds one
 * directory's events, so a real delivery is either wholly inside or wholly outside.
 */
function outsideScopes(payload: unknown, scopes: ScopedSecret[]): string | undefined {
  const items: unknown[] = Array.isArray(payload) ? payload : [payload];
  for (const [i, item] of items.entries()) {
    const e = (item !== null && typeof item === 'object' ? item : {}) as Record<string, unknown>;
    const covered = scopes.some(
      (s) =>
        e.tenant === s.tenant &&
        (s.product === undefined || e.product === s.product) &&
        (s.directory === undefined || e.directory_id === s.directory),
    );
    if (!covered) {
      const where = Array.isArray(payload) ? `item ${i}` : 'the event';
      return `${where} names a tenant, product or directory that the secret it is signed with may not write`;
    }
  }
  return undefined;
}

/**
 * Where a Polis object's id is unique: its tenant and product, as the SHA-256 of the JSON array
 * `[tenant, product]` (fixed width, so the unique index never meets a key too long for it; the
 * migration that introduced scopes computes the same in SQL from `to_json(ARRAY[...])::text`).
 */
export const polisScope = (tenant: string, product: string): string => sha256Hex(JSON.stringify([tenant, product]));

/** The tenant and product the first item naming a tenant gives (a scoped secret's items all name its own). */
function tenantOf(payload: unknown): string | undefined {
  const items: unknown[] = Array.isArray(payload) ? payload : [payload];
  for (const item of items) {
    const e = (item !== null && typeof item === 'object' ? item : {}) as Record<string, unknown>;
    if (typeof e.tenant === 'string') return `${e.tenant}/${typeof e.product === 'string' ? e.product : ''}`;
  }
  return undefined;
}

/** The `event` an unreadable item names, if it names one. */
function typeOf(item: unknown): string {
  const event = (item as { event?: unknown } | null)?.event;
  return typeof event === 'string' ? truncate(event, 100) : '';
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
  scope: string,
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
      key: { provider: PROVIDER, scope, externalId: d.clientID, kind },
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
    key: { provider: PROVIDER, scope, externalId: parsed.data.id, kind: 'DIRECTORY' },
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
  /** See polisScope. */
  scope: string;
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
  return objectEvent(e, { entity: 'MEMBER', key: { provider: PROVIDER, scope: e.scope, externalId: parsed.data.id }, data }, warnings);
}

function groupEvent(e: DirectoryEvent): Normalised {
  const parsed = groupDataSchema.safeParse(e.data);
  if (!parsed.success) return { ok: false, error: withPrefix(parsed.error) };
  const warnings: Warnings = [];
  const name = readText(parsed.data.name, 'data.name', warnings);
  return objectEvent(
    e,
    {
      entity: 'GROUP',
      key: { provider: PROVIDER, scope: e.scope, externalId: parsed.data.id },
      data: { tenant: e.tenant, directory: e.directory, name, raw: e.data },
    },
    warnings,
  );
}

function membershipEvent({ type, action, data, tenant, scope, directory, version }: DirectoryEvent): Normalised {
  const parsed = membershipDataSchema.safeParse(data);
  if (!parsed.success) return { ok: false, error: withPrefix(parsed.error) };
  const { group, ...user } = parsed.data;
  const warnings: Warnings = [];
  const groupName = readText(group.name, 'data.group.name', warnings);
  const rawObject = data as { [key: string]: Json };
  const { group: rawGroup = null, ...rawUser } = rawObject;
  const member: EntityKey = { provider: PROVIDER, scope, externalId: user.id };
  const groupKey: EntityKey = { provider: PROVIDER, scope, externalId: group.id };

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
        scope,
        externalId: `${encodeURIComponent(group.id)}/${encodeURIComponent(user.id)}`,
      },
      version,
      data: { tenant, group: groupKey, member, raw: null },
    },
  ];
  return { ok: true, event: withWarnings({ type, changes }, warnings) };
}
