// The fields a selection set asks of one object type, as graphql-js's executor collects them
// (GraphQL spec, CollectFields): fragments and inline fragments whose type condition the type
// meets, `@skip` and `@include` decided by the variables, fields of one response key merged.
import {
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  isAbstractType,
  Kind,
  typeFromAST,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';

/** One response key: its field nodes (several when merged), in the order the key first appears. */
export type CollectedFields = Map<string, FieldNode[]>;

export interface SelectionContext {
  schema: GraphQLSchema;
  fragments: Record<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
}

const included = (ctx: SelectionContext, node: Parameters<typeof getDirectiveValues>[1]): boolean => {
  if (getDirectiveValues(GraphQLSkipDirective, node, ctx.variables)?.if === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, node, ctx.variables)?.if !== false;
};

function applies(ctx: SelectionContext, condition: Parameters<typeof typeFromAST>[1] | undefined, type: GraphQLObjectType): boolean {
  if (!condition) return true;
  const conditional = typeFromAST(ctx.schema, condition);
  if (conditional === type) return true;
  return conditional !== undefined && isAbstractType(conditional) && ctx.schema.isSubType(conditional, type);
}

export function collectFields(
  ctx: SelectionContext,
  type: GraphQLObjectType,
  selectionSets: readonly SelectionSetNode[],
  into: CollectedFields = new Map(),
  visited = new Set<string>(),
): CollectedFields {
  for (const selectionSet of selectionSets) {
    for (const selection of selectionSet.selections) {
      if (!included(ctx, selection)) continue;
      if (selection.kind === Kind.FIELD) {
        const key = selection.alias?.value ?? selection.name.value;
        const list = into.get(key);
        if (list) list.push(selection);
        else into.set(key, [selection]);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (applies(ctx, selection.typeCondition, type)) collectFields(ctx, type, [selection.selectionSet], into, visited);
      } else {
        const name = selection.name.value;
        if (visited.has(name)) continue;
        visited.add(name);
        const fragment = ctx.fragments[name];
        if (fragment && applies(ctx, fragment.typeCondition, type)) collectFields(ctx, type, [fragment.selectionSet], into, visited);
      }
    }
  }
  return into;
}

/** The sub-selections of a response key's merged field nodes. */
export const subSelections = (nodes: FieldNode[]): SelectionSetNode[] => nodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
