// The shapes of Ory Polis webhook events (see ../shared/reference/providers.md). Only the
// envelope and each object's id are checked; everything else is kept, redacted, as `raw`.
import { z } from 'zod';
import { identifier as id, scopeName } from '../fields.js';

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

// Only what identifies an object is checked here: an event without it cannot be applied and is
// rejected. Every other field is read leniently (../lenient.ts) and never refuses the event.

export const ssoDataSchema = z.looseObject({ clientID: id });

export const dsyncDataSchema = z.looseObject({ id });

export const userDataSchema = z.looseObject({ id });

export const groupDataSchema = z.looseObject({ id });

export const membershipDataSchema = userDataSchema.extend({ group: groupDataSchema });

/** Directory data events: `data` is absent when Polis could not look the object up. */
export const directoryEventSchema = envelopeSchema.extend({
  directory_id: id,
  data: z.unknown().optional(),
});

export const connectionEventSchema = envelopeSchema.extend({ data: z.unknown() });
