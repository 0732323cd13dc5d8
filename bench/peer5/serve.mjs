// PostGraphile 5 as bench:peer runs it: production settings (no GraphiQL, no watch, no explain),
// a pg pool of POOL connections like the service's, the simplify-inflection and many-to-many
// presets so it can be asked for the same pages, conditions on every column as in v4. DATABASE_URL, HOST, PORT, POOL from the
// environment; prints "listening on http://..." once it serves.
import { createServer } from 'node:http';
import { postgraphile } from 'postgraphile';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { PgSimplifyInflectionPreset } from '@graphile/simplify-inflection';
import { PgManyToManyPreset } from '@graphile-contrib/pg-many-to-many';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 0);
const preset = {
  extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset, PgManyToManyPreset],
  // Conditions and orders on every column, as v4 offers them by default (v5 offers only indexed
  // ones): the page is filtered on deleted_at, which no index leads with.
  disablePlugins: ['PgIndexBehaviorsPlugin'],
  pgServices: [
    makePgService({ connectionString: process.env.DATABASE_URL, schemas: ['public'], poolConfig: { max: Number(process.env.POOL ?? 10) } }),
  ],
  grafserv: { graphiql: false, watch: false, websockets: false },
  grafast: { explain: false },
};
const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.once('listening', () => {
  const address = server.address();
  console.log(`listening on http://${host}:${address.port}/graphql`);
});
await serv.addTo(server);
server.listen(port, host);
const stop = async () => {
  server.close();
  await pgl.release();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
