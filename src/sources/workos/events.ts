// The shapes of WorkOS webhook events (../shared/reference/providers.md, "WorkOS"; the SDK's
// interfaces in @workos-inc/node). Only what the directory reads is checked, leniently where a
// value is not needed to identify an object; the object is kept, redacted, as raw.
import { z } from 'zod';
import { identifier as id, optionalIdentifier, optionalText } from '../fields.js';

export const envelopeSchema = z.looseObject({
  id,
  event: z.string().min(1, 'must not be empty'),
  data: z.looseObject({}),
  created_at: optionalText,
});
export type WorkosEnvelope = z.infer<typeof envelopeSchema>;

/** Every object carries these; `updated_at` orders its events. */
const timestamps = { created_at: optionalText, updated_at: optionalText };

export const organizationSchema = z.looseObject({
  id,
  name: optionalText,
  ...timestamps,
});

export const connectionSchema = z.looseObject({
  id,
  organization_id: id,
  connection_type: optionalText,
  name: optionalText,
  state: optionalText,
  ...timestamps,
});

export const directorySchema = z.looseObject({
  id,
  organization_id: id,
  name: optionalText,
  type: optionalText,
  state: optionalText,
  ...timestamps,
});

export const directoryUserSchema = z.looseObject({
  id,
  directory_id: id,
  organization_id: id,
  first_name: z.unknown().optional(),
  last_name: z.unknown().optional(),
  email: z.unknown().optional(),
  emails: z.unknown().optional(),
  username: z.unknown().optional(),
  state: z.unknown().optional(),
  role: z.unknown().optional(),
  roles: z.unknown().optional(),
  ...timestamps,
});

export const directoryGroupSchema = z.looseObject({
  id,
  directory_id: id,
  organization_id: id,
  name: z.unknown().optional(),
  ...timestamps,
});

export const membershipSchema = z.looseObject({
  directory_id: optionalIdentifier,
  user: directoryUserSchema,
  group: directoryGroupSchema,
});
