// What a subscription yields for each change: the feed row, the object it is about (loaded
// once per batch for every subscriber of this process), and the loaders the payload's nested
// fields read through.
import type { LiveKind } from '../../live/spec.js';
import type { Loaders } from '../loaders.js';
import type { ChangeRow, ConnectionRow, GroupRow, MemberRow, MembershipRow, TenantRow } from '../rows.js';

export type { LiveKind };

export interface LiveEvent<T> {
  change: ChangeRow;
  /** The subscribed object as it is now: for a membership change, its member or group. */
  subject: T;
  /** Set when the change was a member joining or leaving a group. */
  membership: MembershipRow | null;
  loaders: Loaders;
}

export type TenantChangeEvent = LiveEvent<TenantRow>;
export type ConnectionChangeEvent = LiveEvent<ConnectionRow>;
export type MemberChangeEvent = LiveEvent<MemberRow>;
export type GroupChangeEvent = LiveEvent<GroupRow>;

/** The event a subscription to each kind yields. */
export interface LiveEventOf {
  TENANT: TenantChangeEvent;
  CONNECTION: ConnectionChangeEvent;
  MEMBER: MemberChangeEvent;
  GROUP: GroupChangeEvent;
}
