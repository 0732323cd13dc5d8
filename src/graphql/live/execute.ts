// Runs a subscription as graphql-js's own subscribe() does (the source stream from the
// field's subscribe resolver, then an execution of the selection set per event), except that
// subscribers of this process whose operation, variables and tenant scope are the same share
// each live event's execution. A thousand dashboards on one query cost one execution per
// change, not a thousand; each still gets its own message.
//
// Sharing is sound because a payload can depend only on the event, the operation and the
// viewer's tenant scope: no field reachable from a subscription payload reads anything else
// of the viewer (which key, its name).
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  getVariableValues,
  print,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
} from 'graphql';
import { viewerTenant } from '../../auth/viewer.js';
import type { GraphQLContext } from '../context.js';
import type { LiveEvent } from './events.js';

type Result = ExecutionResult | Promise<ExecutionResult>;

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

// Documents are shared between subscriptions (documents.ts): print each once.
const printed = new WeakMap<DocumentNode, string>();

/** Executions of subscription payloads in this process, shared or not (for tests and metrics). */
export const liveExecutions = { count: 0 };

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
  if (!isAsyncIterable(source)) return source as ExecutionResult;
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<LiveEvent<unknown>>;
  const key = operationKey(args);
  const ctx = args.contextValue as GraphQLContext;

  const run = (event: LiveEvent<unknown>): Result => {
    const slot = `${event.change.seq}\n${key}`;
    let result = event.shared.get(slot) as Result | undefined;
    if (!result) {
      // The event's loaders, not this subscription's: they are what every sharer reads through.
      const context: GraphQLContext = { viewer: ctx.viewer, db: ctx.db, publicRaw: ctx.publicRaw, loaders: event.loaders, live: ctx.live };
      liveExecutions.count++;
      result = execute({ ...args, rootValue: event, contextValue: context });
      event.shared.set(slot, result);
    }
    return result;
  };

  const results: AsyncIterableIterator<ExecutionResult> = {
    [Symbol.asyncIterator]() {
      return results;
    },
    async next() {
      const step = await iterator.next();
      return step.done ? { value: undefined, done: true } : { value: await run(step.value), done: false };
    },
    async return() {
      await iterator.return?.();
      return { value: undefined, done: true };
    },
    async throw(error: unknown) {
      await iterator.return?.();
      throw error;
    },
  };
  return results;
}
