// What a provider's reconciler gives the core: everything the provider has for one tenant, as
// events at the pull's version, and a way to confirm that an object it did not list is really
// gone. It reads the provider's API and nothing else; the core (run.ts) does the rest.
import type { EntityKind, InboundEvent, Provider, TenantKey, Version } from '../directory/types.js';

export interface PullProgress {
  /** What is being read now: "users of directory dir_1 (page 3)". */
  reading: string;
  /** Objects read so far in this pull. */
  objects: number;
}

export interface PulledTenant {
  /**
   * The provider's objects as events at the pull's version, in the order they may be applied
   * (connections before the members and groups they provisioned, memberships last). An object
   * listed here is what the provider has now; a stored object of the tenant not listed is a
   * candidate to end.
   */
  events: InboundEvent[];
  /**
   * Asked before a stored object the listing did not show is ended: true only when the
   * provider says it is gone (a listing paged by offset can skip an object that moved).
   * `directory` is the external id of the DIRECTORY connection that provisioned it, if known.
   */
  confirmGone(entity: Exclude<EntityKind, 'TENANT'>, externalId: string, directory: string | null): Promise<boolean>;
  /**
   * The kinds the listing is complete for (default all): stored objects of other kinds are never
   * ended, since the provider's API does not list them (Stytch has no list of memberships).
   */
  covers?: Exclude<EntityKind, 'TENANT'>[];
}

export interface Puller {
  /** `polis`, `stytch`: the CLI's and the mutation's name for it. */
  source: string;
  provider: Provider;
  /** Reads one tenant. Throws ProviderError (provider-http.ts) when the provider fails. */
  pull(tenant: TenantKey, version: Version, onProgress: (p: PullProgress) => void): Promise<PulledTenant>;
}
