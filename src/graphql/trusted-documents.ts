// Trusted documents (GRAPHQL_TRUSTED_DOCUMENTS): the operations a frontend was built with, in the
// manifest `@apollo/generate-persisted-query-manifest` writes. When set, a viewer other than an
// admin key may run only those: by the manifest's id sent as the persisted-query hash, or by
// the identical text. A hash is no credential: an operation sent with its own (automatic
// persisted queries) is trusted only if its text is in the manifest. Admin keys run anything,
// so GraphiQL stays usable.
import { readFile } from 'node:fs/promises';
import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { z } from 'zod';
import type { Viewer } from '../auth/viewer.js';
import { describeZodError } from '../lib/zod-error.js';
import type { GraphQLContext } from './context.js';

const manifestSchema = z.object({
  format: z.literal('apollo-persisted-query-manifest'),
  version: z.literal(1),
  operations: z.array(
    z.object({
      id: z.string().min(1),
      name: z.string(),
      type: z.enum(['query', 'mutation', 'subscription']),
      body: z.string().min(1),
    }),
  ),
});

export interface TrustedDocuments {
  /** Where the manifest was read from, and how many operations it lists. */
  path: string;
  count: number;
  byId: ReadonlyMap<string, string>;
  bodies: ReadonlySet<string>;
}

/** Reads and checks a manifest; throws an error naming the file and what is wrong with it. */
export async function loadTrustedDocuments(path: string): Promise<TrustedDocuments> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`GRAPHQL_TRUSTED_DOCUMENTS=${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`GRAPHQL_TRUSTED_DOCUMENTS=${path}: not JSON; expected the manifest @apollo/generate-persisted-query-manifest writes`, { cause: error });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`GRAPHQL_TRUSTED_DOCUMENTS=${path}: not an apollo-persisted-query-manifest of version 1 (${describeZodError(parsed.error)})`);
  }
  const byId = new Map(parsed.data.operations.map((o) => [o.id, o.body]));
  return { path, count: parsed.data.operations.length, byId, bodies: new Set(byId.values()) };
}

export const NOT_ALLOWED = 'PERSISTED_QUERY_NOT_ALLOWED';

const notAllowed = (why: string) =>
  new GraphQLError(`${why}: this service runs only its trusted documents (GRAPHQL_TRUSTED_DOCUMENTS) for this key or token`, {
    extensions: { code: NOT_ALLOWED, http: { status: 400 } },
  });

/**
 * The text a viewer's operation runs as: the manifest's body for a trusted id sent alone, the
 * text itself if the manifest holds it; a PERSISTED_QUERY_NOT_ALLOWED error otherwise. Undefined
 * `query`: only a hash was sent.
 */
export function trustedText(trusted: TrustedDocuments, viewer: Viewer, query: string | undefined, hash: string | undefined): string | GraphQLError | undefined {
  if (viewer.kind === 'admin') return query;
  if (query !== undefined && query !== '') return trusted.bodies.has(query) ? query : notAllowed('this operation is not one of the trusted documents');
  const body = hash === undefined ? undefined : trusted.byId.get(hash);
  return body ?? notAllowed(hash === undefined ? 'no operation was sent' : 'no trusted document has this id');
}

/**
 * Apollo's side: a trusted id sent alone becomes its text before automatic persisted queries
 * look it up, and once the operation's text is known (sent, or from that cache) it must be one
 * of the manifest's, else the request fails before anything runs.
 */
export function trustedDocumentsPlugin(trusted: TrustedDocuments): ApolloServerPlugin<GraphQLContext> {
  return {
    requestDidStart: async ({ request, contextValue }) => {
      const persisted = request.extensions?.persistedQuery as { sha256Hash?: unknown } | undefined;
      const hash = typeof persisted?.sha256Hash === 'string' ? persisted.sha256Hash : undefined;
      if (request.query === undefined && hash !== undefined && contextValue.viewer.kind !== 'admin') {
        const body = trusted.byId.get(hash);
        if (body !== undefined) {
          request.query = body;
          // The manifest's id need not be the text's SHA-256, which Apollo would check it against.
          delete request.extensions!.persistedQuery;
        }
      }
      return {
        didResolveOperation: async ({ source }) => {
          const text = trustedText(trusted, contextValue.viewer, source, undefined);
          if (text instanceof GraphQLError) throw text;
        },
      };
    },
  };
}
