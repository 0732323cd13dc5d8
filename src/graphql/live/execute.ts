// Runs a subscription as graphql-js's own subscribe() would (the field's subscribe resolver
// checks the arguments and says what to follow), except that the events are not an
// execution per subscriber: the subscription joins the push group of its operation key
// (fanout.ts), which executes each change once for every subscriber with the same key.
import { createSourceEventStream, getOperationAST, getVariableValues, print, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { viewerTenant } from '../../auth/viewer.js';
import type { GraphQLContext } from '../context.js';
import { LiveRequest } from './request.js';

export { liveExecutions } from './fanout.js';

// Documents are shared between subscriptions (documents.ts): print each once.
const printed = new WeakMap<DocumentNode, string>();

/**
 * The variables an execution can see: the operation's declared variables, coerced to their
 * types, in declaration order. Variables the operation does not declare change nothing in the
 * result, so they must not split the sharing either (or any client could defeat it by sending
 * `{n: <unique>}`); nor may `"5"` and `5` for an ID.
 */
function effectiveVariables(args: ExecutionArgs): string {
  const operation = getOperationAST(args.document, args.operationName);
  const definitions = operation?.variableDefinitions ?? [];
  if (definitions.length === 0) return '{}';
  const values = getVariableValues(args.schema, definitions, args.variableValues ?? {});
  // Invalid variables never get here (the source stream reports them first); keep them apart.
  return values.coerced ? JSON.stringify(values.coerced) : `invalid:${JSON.stringify(args.variableValues ?? {})}`;
}

/** What makes two subscriptions' payloads equal for the same event. */
export function operationKey(args: ExecutionArgs): string {
  const ctx = args.contextValue as GraphQLContext;
  const scope = viewerTenant(ctx.viewer) ?? '*';
  let text = printed.get(args.document);
  if (text === undefined) printed.set(args.document, (text = print(args.document)));
  return `${scope}\n${args.operationName ?? ''}\n${effectiveVariables(args)}\n${text}`;
}

export async function subscribeShared(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!(source instanceof LiveRequest)) {
    if (Symbol.asyncIterator in source) throw new Error('a subscription field must return a LiveRequest');
    return source;
  }
  const { live } = args.contextValue as GraphQLContext;
  if (!live) throw new Error('a subscription outside a WebSocket session');
  // Synchronous from here to the join: the hub's position is read as the member joins.
  return live.fanout.join(operationKey(args), source.spec, args, live.target);
}
