// What of a WorkOS object a tenant key is shown as `raw` (admin keys see all of it, secrets
// removed): what an organization's own settings or directory page shows. Left out: a
// directory user's `raw_attributes` and `custom_attributes` (whatever the identity provider
// sends: managers, addresses, employee numbers) and a group's `raw_attributes`.
import type { PublicRawShapes } from '../types.js';

const timestamps = { created_at: true, updated_at: true } as const;

export const workosPublicRaw: PublicRawShapes = {
  TENANT: { id: true, name: true, domains: { domain: true, state: true }, ...timestamps },
  CONNECTION: { id: true, organization_id: true, connection_type: true, name: true, state: true, type: true, domains: { domain: true }, ...timestamps },
  MEMBER: {
    id: true,
    directory_id: true,
    organization_id: true,
    idp_id: true,
    first_name: true,
    last_name: true,
    email: true,
    state: true,
    role: { slug: true },
    roles: { slug: true },
    ...timestamps,
  },
  GROUP: { id: true, directory_id: true, organization_id: true, idp_id: true, name: true, ...timestamps },
  MEMBERSHIP: {},
};
