// The directory core's vocabulary. Provider adapters translate their events into these
// changes; the core applies them. Nothing here knows about HTTP or any provider's fields.

import type { Json } from '../lib/json.js';
import {
  PROVIDERS,
  type ChangeAction,
  type ConnectionKind,
  type ConnectionStatus,
  type DeliveryStatus,
  type EntityKind,
  type MemberStatus,
  type Provider,
} from '../db/vocabulary.js';

// The values the database's columns hold are the database's (db/vocabulary.ts); the core speaks them.
export type { Json, ChangeAction, ConnectionKind, ConnectionStatus, DeliveryStatus, EntityKind, MemberStatus, Provider };
export { PROVIDERS };

/**
 * - `upsert`: the provider's full current state of the object.
 * - `delete`: the object is gone; `data`, when the provider sends it, is its last state.
 * - `snapshot`: the object's state as embedded in another event (a user inside a
 *   membership event). It may fill in data but never creates or deletes anything.
 */
export type ChangeOp = 'upsert' | 'delete' | 'snapshot';

/**
 * Ordering key of a change (see version.ts): fixed-width, so string order is time order.
 * Branded so only `makeVersion` can produce one.
 */
export type Version = string & { readonly __version: unique symbol };

export interface TenantKey {
  provider: Provider;
  externalId: string;
  /** '' when the provider has no product dimension. */
  product: string;
}

/**
 * A reference to a tenant from a child. `implied` is the tenant's full description for
 * providers that never send tenant events of their own (Polis): the tenant is created with
 * it. Without it, a missing tenant is created as a placeholder until its own event arrives.
 */
export interface TenantRef extends TenantKey {
  implied?: { name: string; slug: string };
}

export interface EntityKey {
  provider: Provider;
  externalId: string;
  /**
   * Where `externalId` is unique, for a provider whose ids are trusted only within a tenant
   * (Polis: its tenant and product). Absent or '' where ids are global.
   */
  scope?: string;
}

/** A connection's kind is part of its key so a placeholder (a bare delete) can be created. */
export interface ConnectionKey extends EntityKey {
  kind: ConnectionKind;
}

export interface TenantData {
  name: string | null;
  slug: string | null;
  raw: Json;
}

export interface ConnectionData {
  tenant: TenantRef;
  kind: ConnectionKind;
  status: ConnectionStatus;
  name: string | null;
  raw: Json;
}

export interface MemberData {
  tenant: TenantRef;
  /** The DIRECTORY connection that provisioned the member, when known. */
  directory: EntityKey | null;
  email: string | null;
  name: string | null;
  firstName: string | null;
  lastName: string | null;
  status: MemberStatus;
  roles: string[];
  raw: Json;
}

export interface GroupData {
  tenant: TenantRef;
  directory: EntityKey | null;
  name: string | null;
  raw: Json;
}

export interface MembershipData {
  tenant: TenantRef;
  group: EntityKey;
  member: EntityKey;
  raw: Json;
}

interface ChangeBase<E extends EntityKind, K, D> {
  entity: E;
  op: ChangeOp;
  key: K;
  version: Version;
  /** Required for upsert and snapshot; optional for delete. */
  data?: D;
}

export type DirectoryChange =
  | ChangeBase<'TENANT', TenantKey, TenantData>
  | ChangeBase<'CONNECTION', ConnectionKey, ConnectionData>
  | ChangeBase<'MEMBER', EntityKey, MemberData>
  | ChangeBase<'GROUP', EntityKey, GroupData>
  | ChangeBase<'MEMBERSHIP', EntityKey, MembershipData>;

/** One event of a delivery (a Polis batch holds several) and the changes it means. */
export interface InboundEvent {
  type: string;
  changes: DirectoryChange[];
  /** Set when the event is recorded but not applied (unknown type, no data...). */
  ignored?: string;
  /**
   * Set when the event could not be read (a shape the adapter does not understand, a missing
   * id): it is kept with the delivery, nothing of it is applied, and it can be replayed once a
   * newer adapter reads it. The other events of the delivery are applied all the same.
   */
  rejected?: string;
  /** Values the adapter could not read and left out; the rest of the event was applied. */
  warnings?: string[];
}

/** A verified, parsed, redacted delivery: everything the core needs to store it. */
export interface Delivery {
  source: string;
  /** Idempotency keys; a delivery repeating any of them is a duplicate. */
  keys: string[];
  signedAt: Date;
  /** The body with secrets removed. */
  body: Json;
  events: InboundEvent[];
  /**
   * Whose delivery this is (the source and the tenant its body names): rejected deliveries are
   * bounded per sender. Undefined for deliveries made here (replays, reconciliation).
   */
  sender?: string;
  /** Size of the body as received, when known: bounds how much one transaction carries. */
  bytes?: number;
  /**
   * Set by the store, not by adapters, on a delivery it applies in parts (more events than one
   * transaction takes): `opensParts` on the transaction that stores it with nothing applied;
   * `part` on each part of its events, naming the row it continues.
   */
  opensParts?: boolean;
  part?: { deliveryId: string; last: boolean; statusSoFar: DeliveryStatus | undefined };
  /** The W3C traceparent of the webhook's span (tracing on): its batch links to it, its feed rows carry it. */
  trace?: string | undefined;
}

export type ChangeOutcome = 'applied' | 'stale' | 'unchanged';

/** The status of a delivery of two parts, each with its own: the first of the rule above. */
export function combinedStatus(a: DeliveryStatus | undefined, b: DeliveryStatus): DeliveryStatus {
  const rank: DeliveryStatus[] = ['rejected', 'applied', 'stale', 'unchanged', 'ignored', 'applying'];
  return a === undefined || rank.indexOf(b) < rank.indexOf(a) ? b : a;
}

export interface IngestResult {
  deliveryId: string;
  /** `duplicate`: an earlier delivery with the same key was already stored. */
  status: DeliveryStatus | 'duplicate';
  /** Number of changes that reached the change feed. */
  applied: number;
  /** Events of the delivery that could not be read (kept for replay); 0 for a duplicate. */
  rejected: number;
}
