// The read path inside Apollo (http/app.ts plugs it in, with raw-json.ts's stringifyResult): after validation, the cost limit and the viewer's
// authentication, a query is compiled to one statement and answered with the JSON Postgres
// built. Root fields the compiler leaves are executed by graphql-js beside it; anything unusual
// (an argument error, a tenant the guard did not find, a failed statement) is handed back to
// Apollo's own execution, which answers exactly as the resolvers always have.
import { HeaderMap, type ApolloServerPlugin, type GraphQLRequestContextResponseForOperation, type GraphQLResponse } from '@apollo/server';
import { execute, getVariableValues, Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import type { Logger } from 'pino';
import { isUnavailable } from '../db/errors.js';
import type { GraphQLContext } from '../graphql/context.js';
import type { ReadPath } from '../metrics.js';
import { compileQuery } from './compile.js';
import { PlanCache } from './plan-cache.js';
import { RawJsonData } from './raw-json.js';
import { readData, type ResolveRest } from './run.js';

/** Told how each query was answered (the metrics' graphql_server_reads_total). */
export type ReadObserver = (path: ReadPath) => void;

function fragmentsOf(document: DocumentNode): Record<string, FragmentDefinitionNode> {
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
  }
  return fragments;
}

async function answer(
  { operation, document, schema, contextValue, request }: GraphQLRequestContextResponseForOperation<GraphQLContext>,
  logger: Logger,
  plans: PlanCache,
): Promise<{ response: GraphQLResponse; path: ReadPath } | undefined> {
  const planKey = plans.key(document, request.operationName, contextValue.viewer, request.variables);
  let plan = plans.get(planKey);
  // Only a compile and the root fields left to the resolvers need them: not a plan reused.
  let fragments: Record<string, FragmentDefinitionNode> | undefined;
  const fragmentsOnce = () => (fragments ??= fragmentsOf(document));
  try {
    if (!plan) {
      const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], request.variables ?? {});
      // Variables that do not fit are graphql-js's error to report.
      if (coerced.errors) return undefined;
      plan = compileQuery({ schema, fragments: fragmentsOnce(), variables: coerced.coerced }, operation.selectionSet, contextValue);
      plans.set(planKey, plan);
    }
    const resolveRest: ResolveRest = async (fields) => {
      const rest: OperationDefinitionNode = { ...operation, selectionSet: { kind: Kind.SELECTION_SET, selections: fields } };
      const result = await execute({
        schema,
        document: { kind: Kind.DOCUMENT, definitions: [rest, ...Object.values(fragmentsOnce())] },
        contextValue,
        variableValues: request.variables ?? {},
      });
      return result.errors?.length || !result.data ? { failed: true } : { data: result.data };
    };
    const left = plan.keys.flatMap((k) => ('reason' in k ? [`${k.key}: ${k.reason}`] : []));
    if (left.length) logger.debug({ resolvers: left }, 'root fields left to the resolvers');
    const data = await readData(contextValue.db, plan, resolveRest);
    if (data === undefined) return undefined;
    return {
      response: {
        http: { status: undefined, headers: new HeaderMap() },
        body: { kind: 'single', singleResult: { data: new RawJsonData(data) as unknown as Record<string, unknown> } },
      },
      path: plan.keys.every((k) => 'column' in k) ? 'sql' : 'sql_and_resolvers',
    };
  } catch (error) {
    // The resolvers answer instead; a compiler fault is worth knowing about, an outage is not news.
    if (!isUnavailable(error)) logger.warn({ err: error }, 'compiled read failed; answered by the resolvers');
    return undefined;
  }
}

/** `enabled` false (GRAPHQL_READ_PATH=resolvers): every query is the resolvers', and counted so. */
export const compiledReads = (logger: Logger, observe: ReadObserver = () => {}, enabled = true): ApolloServerPlugin<GraphQLContext> => {
  const plans = new PlanCache();
  return {
  requestDidStart: async () => ({
    responseForOperation: async (requestContext) => {
      if (requestContext.operation.operation !== 'query') return null;
      const answered = enabled ? await answer(requestContext, logger, plans) : undefined;
      observe(answered?.path ?? 'resolvers');
      return answered?.response ?? null;
    },
  }),
  };
};
