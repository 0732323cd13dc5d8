// What one GraphQL operation may ask of the server, the same over HTTP and WebSocket: how deep,
// how many aliases, directives and tokens, and how many objects it may make us load. Parsing
// and validation stop an abusive document before any resolver runs; the cost is computed with
// the request's variables, since `first: $n` is what makes a query expensive.
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  getNamedType,
  getOperationAST,
  getVariableValues,
  isLeafType,
  type DocumentNode,
  type GraphQLSchema,
  type ParseOptions,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './pages.js';

export interface QueryLimits {
  /** Nesting of fields through fragments (which add no level), introspection's own not counted. */
  maxDepth: number;
  maxAliases: number;
  /** Directives in one operation (@include, @skip, ...). */
  maxDirectives: number;
  /** Lexical tokens in the document: bounds parsing work and memory before anything else. */
  maxTokens: number;
  /** Objects the operation may load: see costOf. */
  maxCost: number;
  /** Whether `__schema` / `__type` may be asked (GraphiQL needs it). */
  introspection: boolean;
}

/** The errors' wording, with the setting that raises each limit. */
const limitError = (what: string, found: number, limit: number, setting: string) =>
  new GraphQLError(`${what} ${found} is above the limit of ${limit} (${setting})`, {
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: setting, found, maximum: limit },
  });

/**
 * graphql-armor's rules throw by default, which ends validation with an exception and a
 * "Syntax Error" prefix; reporting through the context makes each an ordinary validation error.
 */
const reportTo = (what: string, limit: number, setting: string) => ({
  propagateOnRejection: false,
  exposeLimits: true,
  n: limit,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError) => {
      const found = Number(/found (\d+)/.exec(error.message)?.[1] ?? limit + 1);
      context?.reportError(limitError(what, found, limit, setting));
    },
  ],
});

/**
 * Validation rules to run after graphql's own. Introspection's rule is separate: Apollo adds it
 * itself from its `introspection` option.
 */
export function limitRules(limits: QueryLimits): ValidationRule[] {
  return [
    maxDepthRule({ ...reportTo('query depth', limits.maxDepth, 'GRAPHQL_MAX_DEPTH'), ignoreIntrospection: true, flattenFragments: true }),
    maxAliasesRule(reportTo('number of aliases', limits.maxAliases, 'GRAPHQL_MAX_ALIASES')),
    maxDirectivesRule(reportTo('number of directives', limits.maxDirectives, 'GRAPHQL_MAX_DIRECTIVES')),
  ];
}

export const introspectionRules = (limits: QueryLimits): ValidationRule[] =>
  limits.introspection ? [] : [NoSchemaIntrospectionCustomRule];

export const parseOptions = (limits: QueryLimits): ParseOptions => ({ maxTokens: limits.maxTokens });

/**
 * One per object the operation would load, multiplied by the page size for paged fields
 * (`first` or `last`, else the default page): roughly the rows a request can make us read.
 * Scalars are free, they come with their object.
 */
const estimateObjects: ComplexityEstimator = ({ field, args, childComplexity }) => {
  const own = isLeafType(getNamedType(field.type)) ? 0 : 1;
  if (!field.args.some((a) => a.name === 'first' || a.name === 'last')) return own + childComplexity;
  const requested = Number(args.first ?? args.last ?? DEFAULT_PAGE_SIZE);
  // Beyond the maximum page the resolver refuses anyway; do not let a typo look like an attack.
  const size = Number.isFinite(requested) ? Math.min(Math.max(requested, 0), MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
  return own + size * childComplexity;
};

/** Fields getComplexity visits at most (fragments spread many times multiply them). */
const MAX_VISITED_FIELDS = 10_000;

/**
 * The operation's cost; undefined when its variables do not fit (execution then says why);
 * Infinity when it expands to more fields than are worth counting.
 */
export function costOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): number | undefined {
  const operation = getOperationAST(document, operationName);
  if (!operation) return undefined;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
  if (coerced.errors) return undefined;
  try {
    return getComplexity({
      schema,
      query: document,
      operationName: operationName ?? undefined,
      variables: variables ?? {},
      estimators: [estimateObjects],
      maxQueryNodes: MAX_VISITED_FIELDS,
    });
  } catch (error) {
    // With the document valid and its variables coerced, the node limit is the one failure left.
    if (error instanceof GraphQLError) return Number.POSITIVE_INFINITY;
    throw error;
  }
}

/** The error to answer with when the operation costs too much. */
export function costError(
  limits: QueryLimits,
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): GraphQLError | undefined {
  const cost = costOf(schema, document, operationName, variables);
  if (cost === undefined || cost <= limits.maxCost) return undefined;
  if (cost === Number.POSITIVE_INFINITY) {
    return new GraphQLError(`the operation expands to more than ${MAX_VISITED_FIELDS} fields (GRAPHQL_MAX_COST)`, {
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'GRAPHQL_MAX_COST', maximum: limits.maxCost },
    });
  }
  return limitError('query cost (objects it may load)', cost, limits.maxCost, 'GRAPHQL_MAX_COST');
}
