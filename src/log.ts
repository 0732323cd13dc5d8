import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({
    level: config.logLevel,
    // Belt and braces: request bodies are never logged, and neither are credentials.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["svix-signature"]',
        'req.headers["webhook-signature"]',
        'req.headers["ory-polis-signature"]',
        'req.headers["boxyhq-signature"]',
        'req.headers["ory-signature"]',
      ],
      censor: '[redacted]',
    },
  });
}
