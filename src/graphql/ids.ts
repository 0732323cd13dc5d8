// Global ids as arguments: an id of the wrong kind, or none of ours, is the client's error
// (BAD_USER_INPUT naming the argument). The encoding itself is lib/global-id.ts.
import { parseGlobalId, type IdType } from '../lib/global-id.js';
import { badInput } from './errors.js';

export { isNodeType, NODE_TYPES, parseGlobalId, toGlobalId, type IdType, type NodeType } from '../lib/global-id.js';

/** The uuid inside an id that must be of `type`; BAD_USER_INPUT naming the argument otherwise. */
export function expectGlobalId(globalId: string, type: IdType, argument: string): string {
  const parsed = parseGlobalId(globalId);
  if (!parsed || parsed.type !== type) throw badInput(`${argument} is not a ${type} id`, argument);
  return parsed.id;
}
