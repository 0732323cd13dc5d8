// Who is asking: the result of authenticating an API key or a frontend's token (JWT). Every
// GraphQL resolver scopes what it reads by this, so a tenant key or token can never reach
// another tenant's rows.

interface ViewerCommon {
  /** The api_keys row, or null for ADMIN_API_KEY / the generated local admin key / a token. */
  keyId: string | null;
  name: string;
  /** A token's expiry: a WebSocket it opened is closed then. */
  expiresAt?: Date;
  /**
   * Who the per-key limits count (requests at once, requests a minute, sockets): the key's row,
   * the bootstrap key, or a token's issuer, subject and what it may read. Never the header's
   * text, which can be spelled many ways, nor a token's, which a holder can renew.
   */
  limitKey?: string;
}

export type Viewer =
  | (ViewerCommon & { kind: 'admin' })
  | (ViewerCommon & {
      kind: 'tenant';
      /** tenants.id of the one tenant this key can see; for a token naming several, the first. */
      tenantId: string;
      /**
       * A token naming several tenants: all of them (two or more, sorted, tenantId among them).
       * Absent for one tenant, the common case, which keeps its plain comparisons.
       */
      tenantIds?: readonly string[];
    });

/** The tenants a viewer is confined to (null: all, an admin). */
export type Scope = readonly string[] | null;

/** The identity limits count a viewer under (see ViewerCommon.limitKey). */
export const limitKeyOf = (viewer: Viewer): string => viewer.limitKey ?? (viewer.keyId ? `key:${viewer.keyId}` : `bootstrap:${viewer.name}`);

/** The tenants a viewer is confined to, or null for an admin (all tenants). */
export const viewerScope = (viewer: Viewer): Scope => (viewer.kind === 'admin' ? null : (viewer.tenantIds ?? [viewer.tenantId]));

/**
 * The one tenant a viewer is confined to, or null for an admin; undefined for a viewer of several
 * (what needs one tenant, the compiled read path, leaves those to the resolvers).
 */
export const viewerTenant = (viewer: Viewer): string | null | undefined =>
  viewer.kind === 'admin' ? null : viewer.tenantIds ? undefined : viewer.tenantId;

/** A scope as a cache key's part: the same for the same tenants, whatever the viewer. */
export const scopeKey = (scope: Scope): string => (scope === null ? '*' : scope.join(','));

/** Is a row of tenant `tenantId` visible to this viewer? Rows of no tenant are admin-only. */
export const canSee = (viewer: Viewer, tenantId: string | null): boolean =>
  viewer.kind === 'admin' ||
  (tenantId !== null && (viewer.tenantIds ? viewer.tenantIds.includes(tenantId) : tenantId === viewer.tenantId));
