// Who is asking: the result of authenticating an API key. Every GraphQL resolver scopes what
// it reads by this, so a tenant key can never reach another tenant's rows.

export type Viewer =
  | {
      kind: 'admin';
      /** The api_keys row, or null for ADMIN_API_KEY / the generated local admin key. */
      keyId: string | null;
      name: string;
    }
  | {
      kind: 'tenant';
      keyId: string;
      name: string;
      /** tenants.id of the one tenant this key can see. */
      tenantId: string;
    };

/** The tenant a viewer is confined to, or null for an admin (all tenants). */
export const viewerTenant = (viewer: Viewer): string | null => (viewer.kind === 'tenant' ? viewer.tenantId : null);
