// Runs a subscription as graphql-js's own subscribe() would (the field's subscribe resolver
// checks the arguments and says what to follow), except that the events are not an
// execution per subscriber: the subscription joins the push group of its operation key
// (src/live/fanout.ts), which executes each change once for every subscriber with the same key.
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  getVariableValues,
  Kind,
  print,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type OperationDefinitionNode,
} from 'graphql';
import { scopeKey, viewerScope } from '../../auth/viewer.js';
import type { Payload } from '../../live/fanout.js';
import { HistoryPruned } from '../../live/history.js';
import type { GraphQLContext } from '../context.js';
import { cursorExpired } from '../errors.js';
import type { Loaders } from '../loaders.js';
import { LiveRequest } from './request.js';
import { eventFor } from './subject.js';

/** Executions of subscription payloads in this process, shared or not (for tests and metrics). */
export const liveExecutions = { count: 0 };

// Documents are shared between subscriptions (documents.ts): print each once.
const printed = new WeakMap<DocumentNode, string>();

// Per operation: the variables used only as a root field's `after` (see effectiveVariables).
const cursorVariables = new WeakMap<OperationDefinitionNode, Set<string>>();

/**
 * Variables used nowhere but as the `after` argument of a root field. `after` only says where
 * the subscriber's stream starts (its history); a change's payload is the same whatever it is.
 * Every client that reconnects after a cut-off resubscribes with its own cursor: were the
 * cursor part of the key, a thousand of them would cost a thousand executions per change at
 * the moment the instance is already behind.
 */
function cursorOnlyVariables(operation: OperationDefinitionNode): Set<string> {
  let names = cursorVariables.get(operation);
  if (names) return names;
  const asAfter = new Map<string, number>();
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD) continue;
    for (const argument of selection.arguments ?? []) {
      if (argument.name.value === 'after' && argument.value.kind === Kind.VARIABLE) {
        const name = argument.value.name.value;
        asAfter.set(name, (asAfter.get(name) ?? 0) + 1);
      }
    }
  }
  const uses = new Map<string, number>();
  visit(operation.selectionSet, {
    Variable: (node) => {
      uses.set(node.name.value, (uses.get(node.name.value) ?? 0) + 1);
    },
  });
  names = new Set([...asAfter].filter(([name, n]) => uses.get(name) === n).map(([name]) => name));
  cursorVariables.set(operation, names);
  return names;
}

/**
 * The variables an execution can see: the operation's declared variables, coerced to their
 * types, in declaration order. Variables the operation does not declare change nothing in the
 * result, so they must not split the sharing either (or any client could defeat it by sending
 * `{n: <unique>}`); nor may `"5"` and `5` for an ID. Nor may a cursor (cursorOnlyVariables).
 */
function effectiveVariables(args: ExecutionArgs): string {
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation) return '{}';
  const cursors = cursorOnlyVariables(operation);
  const definitions = (operation.variableDefinitions ?? []).filter((d) => !cursors.has(d.variable.name.value));
  if (definitions.length === 0) return '{}';
  const values = getVariableValues(args.schema, definitions, args.variableValues ?? {});
  // Invalid variables never get here (the source stream reports them first); keep them apart.
  return values.coerced ? JSON.stringify(values.coerced) : `invalid:${JSON.stringify(args.variableValues ?? {})}`;
}

/** What makes two subscriptions' payloads equal for the same event. */
export function operationKey(args: ExecutionArgs): string {
  const ctx = args.contextValue as GraphQLContext;
  // The viewer's tenants, never just one of them: a payload is shared only within the same scope.
  const scope = scopeKey(viewerScope(ctx.viewer));
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
  const context = args.contextValue as GraphQLContext;
  const { live } = context;
  if (!live) throw new Error('a subscription outside a WebSocket session');
  const { spec } = source;
  // Not this socket's context (its sink, its session): only what an execution reads, so that a
  // group's first member's payload serves every member.
  const { viewer, db, publicRaw } = context;
  const { contextValue: _own, ...operation } = args;
  const payload: Payload<Loaders, ExecutionResult> = async (row, loaders) => {
    const event = await eventFor(spec, row, loaders);
    if (!event) return null;
    liveExecutions.count++;
    return execute({ ...operation, rootValue: event, contextValue: { viewer, db, publicRaw, loaders } satisfies GraphQLContext });
  };
  // Synchronous from here to the join: the hub's position is read as the member joins.
  return cursorExpiredAsGraphQL(live.fanout.join(operationKey(args), spec, payload, live.target));
}

/** A history the feed no longer reaches back to is CURSOR_EXPIRED, as `changes(after:)` says it. */
function cursorExpiredAsGraphQL<R>(events: AsyncIterableIterator<R>): AsyncIterableIterator<R> {
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () =>
      events.next().catch((error: unknown) => {
        throw error instanceof HistoryPruned ? cursorExpired('after') : error;
      }),
    return: () => events.return?.() ?? Promise.resolve({ value: undefined, done: true }),
    throw: (error: unknown) => events.throw?.(error) ?? Promise.reject(error),
  };
}
