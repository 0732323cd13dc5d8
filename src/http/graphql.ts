// GraphQL over HTTP at /graphql (GET and POST), with CORS for the configured browser origins
// only. Registered in its own scope so its JSON body parsing and CORS never touch webhooks.
import cors from '@fastify/cors';
import type { ApolloServer } from '@apollo/server';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import type { FastifyPluginAsync } from 'fastify';
import type { GraphQLContext } from '../graphql/context.js';

export interface GraphQLRouteDeps {
  apollo: ApolloServer<GraphQLContext>;
  context: (authorization: string | undefined) => Promise<GraphQLContext>;
  /** Origins allowed to call the API from a browser; empty: none (same-origin GraphiQL still works). */
  corsOrigins: string[];
  /** Largest request body; a bigger one is answered 413. */
  bodyLimit: number;
  path?: string;
}

export const graphqlRoutes =
  (deps: GraphQLRouteDeps): FastifyPluginAsync =>
  async (fastify) => {
    await fastify.register(cors, {
      origin: deps.corsOrigins.length > 0 ? deps.corsOrigins : false,
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'apollo-require-preflight', 'x-apollo-operation-name'],
      maxAge: 600,
    });
    const handler = fastifyApolloHandler(deps.apollo, {
      context: async (request) => deps.context(request.headers.authorization),
    });
    fastify.route({ method: ['GET', 'POST'], url: deps.path ?? '/graphql', handler, bodyLimit: deps.bodyLimit });
  };
