import type { FastifyPluginAsync } from 'fastify';
import type { DatabaseHandle } from '../db/open.js';
import { withDeadline } from '../lib/deadline.js';
import type { SourceAdapter } from '../sources/types.js';

export interface HealthDeps {
  database: Pick<DatabaseHandle, 'ping' | 'migrationsApplied' | 'kind'>;
  sources: SourceAdapter[];
  /** Whether /metrics is served on this port (behind METRICS_TOKEN). */
  metrics?: boolean;
}

export const healthRoutes =
  (deps: HealthDeps): FastifyPluginAsync =>
  async (app) => {
    app.get('/', async () => ({
      service: 'directory-sync',
      webhooks: deps.sources.map((s) => ({
        route: `POST /webhooks/${s.name}`,
        configured: s.configured,
      })),
      graphql: {
        http: 'POST or GET /graphql (Authorization: Bearer <api key>)',
        websocket: '/graphql (the graphql-ws protocol)',
        graphiql: '/graphiql',
      },
      health: { liveness: '/healthz', readiness: '/readyz' },
      ...(deps.metrics ? { metrics: 'GET /metrics (Authorization: Bearer <METRICS_TOKEN>)' } : {}),
    }));

    /** Liveness: the process answers. */
    app.get('/healthz', async () => ({ status: 'ok' }));

    /** Readiness: the database answers and carries every migration of this build. */
    app.get('/readyz', async (request, reply) => {
      try {
        await withDeadline(deps.database.ping(), 2000);
        if (!(await withDeadline(deps.database.migrationsApplied(), 2000))) {
          return reply.code(503).send({ error: 'database migrations are not applied' });
        }
        return { status: 'ready', database: deps.database.kind };
      } catch (error) {
        request.log.warn({ err: error }, 'readiness check failed');
        return reply.code(503).send({ error: 'database unavailable' });
      }
    });
  };
