// Parsed and validated operations, kept by their text. Many sockets send the same few
// subscriptions (every open dashboard of an app), so each distinct text is parsed and
// validated once and its syntax tree shared, instead of one tree per subscription held for
// the subscription's whole life.
import {
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type ParseOptions,
  type ValidationRule,
} from 'graphql';

/** The codes Apollo gives the same errors over HTTP, so clients see one vocabulary. */
const coded = (error: GraphQLError, code: string) =>
  new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    extensions: { ...error.extensions, code },
  });

export interface DocumentCache {
  /** The validated document, or the errors to answer with. */
  get(query: string): DocumentNode | readonly GraphQLError[];
  readonly size: number;
}

export interface DocumentCacheOptions {
  entries?: number;
  maxLength?: number;
  /** Run after graphql's own rules (query limits). */
  rules?: readonly ValidationRule[];
  parseOptions?: ParseOptions;
}

export function createDocumentCache(schema: GraphQLSchema, options: DocumentCacheOptions = {}): DocumentCache {
  const entries = options.entries ?? 500;
  const maxLength = options.maxLength ?? 20_000;
  const rules = [...specifiedRules, ...(options.rules ?? [])];
  // A Map iterates in insertion order: re-inserting on a hit makes it least-recently-used first.
  const cache = new Map<string, DocumentNode>();
  return {
    get(query) {
      const hit = cache.get(query);
      if (hit) {
        cache.delete(query);
        cache.set(query, hit);
        return hit;
      }
      let document: DocumentNode;
      try {
        document = parse(query, options.parseOptions);
      } catch (error) {
        if (error instanceof GraphQLError) return [coded(error, 'GRAPHQL_PARSE_FAILED')];
        throw error;
      }
      const errors = validate(schema, document, rules);
      if (errors.length > 0) return errors.map((e) => coded(e, 'GRAPHQL_VALIDATION_FAILED'));
      // Only valid operations are kept, and only short ones: nobody fills it with junk.
      if (query.length <= maxLength) {
        cache.set(query, document);
        if (cache.size > entries) cache.delete(cache.keys().next().value as string);
      }
      return document;
    },
    get size() {
      return cache.size;
    },
  };
}
