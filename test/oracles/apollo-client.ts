// A frontend's side of trusted documents, with Apollo's own code: Apollo Client and its
// persisted-query link, the manifest generator a build runs over the client's documents, and the
// link helper that sends each operation as the manifest's id.
export { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client/core/index.js';
export { createPersistedQueryLink } from '@apollo/client/link/persisted-queries/index.js';
export { generatePersistedQueryManifest, type PersistedQueryManifest } from '@apollo/generate-persisted-query-manifest';
export { generatePersistedQueryIdsFromManifest } from '@apollo/persisted-query-lists';
