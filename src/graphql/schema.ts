// The executable schema: schema.graphql (the one source of the API's shape) plus resolvers.
// Shared by HTTP (Apollo) and, later, WebSocket subscriptions.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import { resolvers } from './resolvers/index.js';

export const schemaPath = fileURLToPath(new URL('../../schema.graphql', import.meta.url));

export function buildSchema(): GraphQLSchema {
  return makeExecutableSchema({ typeDefs: readFileSync(schemaPath, 'utf8'), resolvers });
}
