// What every resolver receives: who is asking, the database, and this request's loaders.
import type { Viewer } from '../auth/viewer.js';
import type { Database } from '../db/open.js';
import type { Loaders } from './loaders.js';

export interface GraphQLContext {
  viewer: Viewer;
  db: Database;
  loaders: Loaders;
}
