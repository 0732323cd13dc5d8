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
  Kind,
  visit,
  type ASTNode,
  type SelectionSetNode,
  type DocumentNode,
  type GraphQLSchema,
  type ParseOptions,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import type { QueryLimits } from '../config.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './pages.js';

export type { QueryLimits };

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
 * What a text search costs when it runs over a whole list of the directory (a root list, or a
 * tenant's): a substring match may read every row, however small the page (an index narrows
 * it, but cannot bound it for every pattern). As much as loading 5,000 objects, so the
 * default GRAPHQL_MAX_COST allows a handful in one operation.
 */
export const SEARCH_COST = 5000;
/**
 * What `totalCount` or `countsByStatus` of such a list costs: counting reads the whole
 * (filtered) list. An `orderBy` costs the same: sorting by a name reads all of it too.
 */
export const COUNT_COST = 500;
/**
 * The lists of one member or group (its groups, its members) are that object's memberships,
 * read by index: searching or counting them costs about a page.
 */
const BIG_LISTS_UNDER = new Set(['Query', 'Tenant']);

/**
 * What a search adds per this many characters of its text: a longer pattern is more trigrams
 * to intersect, and more work for each row the index does not rule out.
 */
const SEARCH_CHARACTERS_PER_STEP = 20;

/** What searching a list for `text` costs: `base`, once per started step of its length. */
const searchCost = (base: number, text: string) => base * (1 + Math.floor(text.length / SEARCH_CHARACTERS_PER_STEP));

type Fragments = ReadonlyMap<string, SelectionSetNode>;

/**
 * One per object the operation would load, multiplied by the page size for paged fields
 * (`first` or `last`, else the default page): roughly the rows a request can make us read.
 * Scalars are free, they come with their object, except the ones that read whole lists: a
 * list's `totalCount`, and a list filtered by `search`, whose cost grows with its text.
 */
const estimateObjects =
  (fragments: Fragments): ComplexityEstimator =>
  ({ type, field, args, node, childComplexity }) => {
    // Group.memberCount counts one group's memberships, by index: about a page. countsByStatus
    // is charged to its list, as a count (below), not per item of the page.
    if (field.name === 'countsByStatus') return 0;
    const own = isLeafType(getNamedType(field.type)) ? (field.name === 'memberCount' ? 1 : 0) : 1;
    const whole = BIG_LISTS_UNDER.has(type.name);
    const filter = args.filter as { search?: unknown } | null | undefined;
    const searching = typeof filter?.search === 'string' && filter.search !== '';
    // A filter by appRole works out every member's role: as much as a search of the list.
    const byRole = typeof (filter as { appRole?: unknown } | null | undefined)?.appRole === 'string' ? (whole ? SEARCH_COST : MAX_PAGE_SIZE) : 0;
    const search = (searching ? searchCost(whole ? SEARCH_COST : MAX_PAGE_SIZE, filter.search as string) : 0) + byRole;
    if (!field.args.some((a) => a.name === 'first' || a.name === 'last')) return own + search + childComplexity;
    const requested = Number(args.first ?? args.last ?? DEFAULT_PAGE_SIZE);
    // Beyond the maximum page the resolver refuses anyway; do not let a typo look like an attack.
    const size = Number.isFinite(requested) ? Math.min(Math.max(requested, 0), MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
    // A count is made once per list, not once per item of the page.
    const counts = selectedCounts(node.selectionSet, fragments).size + (Array.isArray(args.orderBy) && args.orderBy.length ? 1 : 0);
    const count = counts * (whole ? COUNT_COST : 1);
    return own + search + count + size * childComplexity;
  };

const COUNTING_FIELDS = new Set(['totalCount', 'countsByStatus']);

/**
 * The counting fields a list's selection asks for (`totalCount`, `countsByStatus`), directly,
 * in an inline fragment, or in a named fragment it spreads: the same fields cost the same
 * however they are written.
 */
function selectedCounts(
  selectionSet: SelectionSetNode | undefined,
  fragments: Fragments,
  into = new Set<string>(),
  seen = new Set<string>(),
): Set<string> {
  for (const selection of selectionSet?.selections ?? []) {
    if (selection.kind === Kind.FIELD) {
      if (COUNTING_FIELDS.has(selection.name.value)) into.add(selection.name.value);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      selectedCounts(selection.selectionSet, fragments, into, seen);
    } else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      selectedCounts(fragments.get(selection.name.value), fragments, into, seen);
    }
  }
  return into;
}

const fragmentsOf = (document: DocumentNode): Fragments =>
  new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d.selectionSet] as const] : [])));

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
  // Worked out once per document and the values of the variables that can change it: a
  // `node(id: $id)` asked a thousand times with a thousand ids costs one computation.
  let cached = costCache.get(document);
  if (!cached) costCache.set(document, (cached = { relevant: costVariables(document), costs: new Map() }));
  const given = variables ?? {};
  const key = JSON.stringify([operationName ?? null, ...[...cached.relevant].map((n) => (Object.hasOwn(given, n) ? [given[n]] : []))]);
  const known = cached.costs.get(key);
  if (known !== undefined) return known;
  let cost: number;
  try {
    cost = getComplexity({
      schema,
      query: document,
      operationName: operationName ?? undefined,
      variables: given,
      estimators: [estimateObjects(fragmentsOf(document))],
      maxQueryNodes: MAX_VISITED_FIELDS,
    });
  } catch (error) {
    // With the document valid and its variables coerced, the node limit is the one failure left.
    if (!(error instanceof GraphQLError)) throw error;
    cost = Number.POSITIVE_INFINITY;
  }
  if (cached.costs.size >= COSTS_PER_DOCUMENT) cached.costs.delete(cached.costs.keys().next().value!);
  cached.costs.set(key, cost);
  return cost;
}

/** Costs worked out per parsed document (Apollo and graphql-ws each keep one per query text). */
const costCache = new WeakMap<DocumentNode, { relevant: Set<string>; costs: Map<string, number> }>();
const COSTS_PER_DOCUMENT = 256;

/** Arguments whose values the cost reads (estimateObjects). */
const COST_ARGUMENTS = new Set(['first', 'last', 'filter', 'orderBy']);

/**
 * The variables that can change an operation's cost: those in the arguments the estimator
 * reads, and those of any directive (`@include(if: $x)` decides which fields count).
 */
function costVariables(document: DocumentNode): Set<string> {
  const names = new Set<string>();
  const collect = (node: ASTNode) =>
    visit(node, {
      Variable: (variable) => {
        names.add(variable.name.value);
      },
    });
  visit(document, {
    Argument: (argument) => {
      if (COST_ARGUMENTS.has(argument.name.value)) collect(argument.value);
    },
    Directive: (directive) => {
      collect(directive);
    },
  });
  return names;
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
