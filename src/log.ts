import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

/** What a request line shows: never the query string, where a key or a GraphQL variable can travel. */
interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

const pathOnly = (url: string | undefined) => (url === undefined ? undefined : url.split('?', 1)[0]);

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      serializers: {
        // Fastify's request serializer, less the query string: `?authorization=Bearer ...` is
        // ignored for authentication but would otherwise be written down, and so would a GET
        // request's `query` and `variables`.
        req: (req: LoggedRequest) => ({
          method: req.method,
          url: pathOnly(req.url),
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort,
        }),
      },
      // Belt and braces: request bodies are never logged, and neither are credentials.
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["svix-signature"]',
          'req.headers["webhook-signature"]',
          'req.headers["ory-polis-signature"]',
          'req.headers["boxyhq-signature"]',
          'req.headers["ory-signature"]',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
