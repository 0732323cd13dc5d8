// What a provider's reconciler gives the core: everything the provider has for one tenant, as
// events at the pull's version, and a way to find out whether an object it did not list is
// really gone. It reads the provider's API and nothing else; the core (run.ts) does the rest.
import type { ConnectionKind, Delivery, EntityKind, InboundEvent, Provider, TenantKey, Version } from '../directory/types.js';

export interface PullProgress {
  /** What is being read now: "users of directory dir_1 (page 3)". */
  reading: string;
  /** Objects read so far in this pull. */
  objects: number;
}

export type ReconciledKind = Exclude<EntityKind, 'TENANT'>;

/** A live stored object the provider's listing did not show: a candidate to end. */
export interface EndCandidate {
  entity: ReconciledKind;
  externalId: string;
  /** Connections: what kind it is, which decides where a provider looks it up. */
  connectionKind: ConnectionKind | null;
  /** Members, groups and memberships: the external id of the directory that provisioned it. */
  directory: string | null;
  /** Memberships: the external ids of the member and the group. */
  member: string | null;
  group: string | null;
}

/**
 * What the provider says of a candidate. `gone` only on its positive word for that object: a
 * not-found for it by its id, or (for what it has no route by id) a complete reading of the one
 * list it can only be in. `there` when it still has it; `unknown` when it cannot be told (the
 * object is then left as it is, and the report says so). A listing alone never proves `gone`:
 * one can be cut short by a store's page limit, or skip an object that moved between pages.
 */
export type Presence = 'gone' | 'there' | 'unknown';

export interface PulledTenant {
  /**
   * The provider's objects as events at the pull's version, in the order they may be applied
   * (connections before the members and groups they provisioned, memberships last).
   */
  events: InboundEvent[];
  /** Asked for each candidate before it is ended. */
  confirmGone(candidate: EndCandidate): Promise<Presence>;
  /**
   * What the pull could not read whole (a route the provider's store cannot page, a kind its API
   * does not list), in words for the report. Objects it would have shown were neither updated nor
   * ended on its word.
   */
  unverified: string[];
  /**
   * Events read from the provider's own ordered log since the last run's cursor (WorkOS's Events
   * API), each a delivery of its own, keyed as its webhook is: applied first, and a duplicate of
   * a webhook that did arrive. Events are the provider's exact account (deletions included).
   */
  logged?: Delivery[];
  /** Where the provider's log stands now, for the next run (stored with this one). */
  cursor?: string;
}

export interface PullOptions {
  /** Ends the reading early (the run lost its lock): requests in flight are abandoned. */
  signal?: AbortSignal;
  /** The log position the last successful run of this tenant left, if any. */
  cursor?: string;
}

export interface Puller {
  /** `polis`, `stytch`, `workos`: the CLI's and the mutation's name for it. */
  source: string;
  provider: Provider;
  /** Reads one tenant. Throws ProviderError (provider-http.ts) when the provider fails. */
  pull(tenant: TenantKey, version: Version, onProgress: (p: PullProgress) => void, options?: PullOptions): Promise<PulledTenant>;
}
