// The error codes clients can rely on. Every error the API raises on purpose has one of these
// in `extensions.code`; anything else is reported as INTERNAL_SERVER_ERROR with no detail.
import { GraphQLError } from 'graphql';

export type ErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'BAD_USER_INPUT' | 'NOT_FOUND' | 'SERVICE_UNAVAILABLE' | 'CURSOR_EXPIRED';

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = { UNAUTHENTICATED: 401, SERVICE_UNAVAILABLE: 503 };

export function apiError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  const status = HTTP_STATUS[code];
  return new GraphQLError(message, {
    extensions: { code, ...extensions, ...(status ? { http: { status } } : {}) },
  });
}

export const badInput = (message: string, argument?: string) =>
  apiError('BAD_USER_INPUT', message, argument ? { argument } : {});

/** A feed cursor older than what retention keeps: resuming from it would skip changes. */
export const cursorExpired = (argument: string) =>
  apiError(
    'CURSOR_EXPIRED',
    `${argument} points to a change older than the feed keeps (CHANGES_RETENTION_DAYS): ` +
      'reading on from it would skip changes. Reload what you show with a query, then subscribe ' +
      'again without `after` (or page `changes` from its start).',
    { argument },
  );
