// The shapes of Ory Polis webhook events (see ../shared/reference/providers.md). Only the
// fields the directory reads are checked; everything else is kept, redacted, as `raw`.
import { z } from 'zod';
import { email, identifier as id, optionalText, scopeName } from '../fields.js';

export const SSO_EVENTS = ['sso.created', 'sso.activated', 'sso.deactivated', 'sso.deleted'] as const;
export const DSYNC_EVENTS = [
  'dsync.created',
  'dsync.activated',
  'dsync.deactivated',
  'dsync.deleted',
] as const;
export const USER_EVENTS = ['user.created', 'user.updated', 'user.deleted'] as const;
export const GROUP_EVENTS = ['group.created', 'group.updated', 'group.deleted'] as const;
export const MEMBERSHIP_EVENTS = ['group.user_added', 'group.user_removed'] as const;

export const POLIS_EVENT_TYPES = [
  ...SSO_EVENTS,
  ...DSYNC_EVENTS,
  ...USER_EVENTS,
  ...GROUP_EVENTS,
  ...MEMBERSHIP_EVENTS,
] as const;
export type PolisEventType = (typeof POLIS_EVENT_TYPES)[number];


/** Every event names its tenant and product; an unknown event type is still recorded. */
export const envelopeSchema = z.object({
  event: z.string().min(1, 'must not be empty'),
  tenant: scopeName,
  product: scopeName,
});

export const ssoDataSchema = z.looseObject({
  clientID: id,
  name: optionalText,
  description: optionalText,
  provider: optionalText,
  friendlyProviderName: optionalText,
});

export const dsyncDataSchema = z.looseObject({
  id,
  name: optionalText,
  type: optionalText,
});

/**
 * SCIM clients send `active` as a boolean, and some (Entra ID in PATCH requests) as the
 * string "True"/"False", which Polis passes through.
 */
const active = z
  .union([z.boolean(), z.string().regex(/^(true|false)$/i, 'must be true or false')])
  .optional()
  .transform((v) => (typeof v === 'string' ? v.toLowerCase() === 'true' : (v ?? true)));

/** SCIM roles arrive as a list or as one comma-separated string. */
const roles = z
  .union([z.array(z.string()), z.string()])
  .nullish()
  .transform((v) =>
    (typeof v === 'string' ? v.split(',') : (v ?? [])).map((r) => r.trim()).filter(Boolean),
  );

export const userDataSchema = z.looseObject({
  id,
  first_name: optionalText,
  last_name: optionalText,
  email,
  active,
  roles,
});

export const groupDataSchema = z.looseObject({
  id,
  name: optionalText,
});

export const membershipDataSchema = userDataSchema.extend({ group: groupDataSchema });

/** Directory data events: `data` is absent when Polis could not look the object up. */
export const directoryEventSchema = envelopeSchema.extend({
  directory_id: id,
  data: z.unknown().optional(),
});

export const connectionEventSchema = envelopeSchema.extend({ data: z.unknown() });
