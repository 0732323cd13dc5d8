// The shapes of Stytch B2B webhook events (see ../shared/reference/providers.md and the seed
// page). Only the fields the directory reads are checked; the object is kept, redacted, as raw.
import { z } from 'zod';
import { email, identifier as id, optionalIdentifier, optionalText } from '../fields.js';

export const envelopeSchema = z.object({
  action: z.string().min(1, 'must not be empty'),
  id,
  object_type: z.string().min(1, 'must not be empty'),
  timestamp: z.string(),
  source: z.string().optional(),
  vertical: z.string().optional(),
  event_id: z.string().optional(),
  project_id: z.string().optional(),
});
export type StytchEnvelope = z.infer<typeof envelopeSchema>;

export const organizationSchema = z.looseObject({
  organization_id: id,
  organization_name: optionalText,
  organization_slug: optionalText,
});

export const memberSchema = z.looseObject({
  member_id: id,
  organization_id: id,
  email_address: email,
  name: optionalText,
  status: optionalText,
  roles: z
    .array(z.looseObject({ role_id: z.string() }))
    .nullish()
    .transform((roles) => (roles ?? []).map((r) => r.role_id)),
});

export const connectionSchema = z.looseObject({
  connection_id: id,
  organization_id: id,
  display_name: optionalText,
  status: optionalText,
});

export const scimGroupSchema = z.looseObject({
  group_id: id,
  organization_id: id,
  group_name: optionalText,
  connection_id: optionalIdentifier,
});

export const scimMembershipSchema = z.looseObject({
  group_id: id,
  member_id: id,
  organization_id: id,
  connection_id: optionalIdentifier,
});
