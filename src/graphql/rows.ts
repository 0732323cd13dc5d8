// The shapes resolvers receive as parents: rows as Drizzle's schema defines them, and pages
// of them. schema.graphql's object types are mapped onto these (see codegen.ts).
import type { InferSelectModel } from 'drizzle-orm';
import type {
  changes,
  connections,
  deliveries,
  groups,
  members,
  memberships,
  reconcileRuns,
  tenants,
} from '../db/schema.js';
import type { Page } from './pages.js';

export type TenantRow = InferSelectModel<typeof tenants>;
export type ConnectionRow = InferSelectModel<typeof connections>;
export type MemberRow = InferSelectModel<typeof members>;
export type GroupRow = InferSelectModel<typeof groups>;
export type MembershipRow = InferSelectModel<typeof memberships>;
export type DeliveryRow = InferSelectModel<typeof deliveries>;
export type ChangeRow = InferSelectModel<typeof changes>;
export type ReconcileRunRow = InferSelectModel<typeof reconcileRuns>;

export type TenantPage = Page<TenantRow>;
export type ConnectionPage = Page<ConnectionRow>;
export type MemberPage = Page<MemberRow>;
export type GroupPage = Page<GroupRow>;
export type ChangePage = Page<ChangeRow>;
export type DeliveryPage = Page<DeliveryRow>;
