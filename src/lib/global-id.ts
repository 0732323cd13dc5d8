// Global ids: opaque to clients, stable across restarts (they wrap the row's uuid, which never
// changes), and typed, so an id of one kind is never mistaken for another.
import { isUuid } from './uuid.js';

export const NODE_TYPES = ['Tenant', 'Connection', 'Member', 'Group', 'Membership', 'Delivery', 'ReconcileRun'] as const;
export type NodeType = (typeof NODE_TYPES)[number];
export type IdType = NodeType;
const ID_TYPES: readonly IdType[] = NODE_TYPES;
export const isNodeType = (type: IdType): type is NodeType => (NODE_TYPES as readonly string[]).includes(type);

export const toGlobalId = (type: IdType, id: string): string => Buffer.from(`${type}:${id}`).toString('base64url');

/** Undefined for anything that is not an id this API issued. */
export function parseGlobalId(globalId: string): { type: IdType; id: string } | undefined {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(globalId)) return undefined;
  const [type, id, ...rest] = Buffer.from(globalId, 'base64url').toString('utf8').split(':');
  if (rest.length > 0 || !isUuid(id)) return undefined;
  const known = ID_TYPES.find((t) => t === type);
  return known ? { type: known, id } : undefined;
}
