// Who is asking: the result of authenticating an API key or a frontend's token (JWT). Every
// GraphQL resolver scopes what it reads by this, so a tenant key or token can never reach
// another tenant's rows.

export type Viewer =
  | {
      kind: 'admin';
      /** The api_keys row, or null for ADMIN_API_KEY / the generated local admin key / a token. */
      keyId: string | null;
      name: string;
      /** A token's expiry: a WebSocket it opened is closed then. */
      expiresAt?: Date;
    }
  | {
      kind: 'tenant';
      /** The api_keys row, or null for a token. */
      keyId: string | null;
      name: string;
      expiresAt?: Date;
      /** tenants.id of the one tenant this key can see. */
      tenantId: string;
    };

/** The tenant a viewer is confined to, or null for an admin (all tenants). */
export const viewerTenant = (viewer: Viewer): string | null => (viewer.kind === 'tenant' ? viewer.tenantId : null);
