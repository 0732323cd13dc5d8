// Classifies database errors from either driver, through Drizzle's wrapping and GraphQL's.

function* causes(error: unknown): Generator<unknown> {
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    yield current;
    // graphql 16 keeps what it wraps in `originalError` (graphql-ws wraps an error a
    // subscription's stream throws that way, with no path for Apollo's unwrapResolverError).
    const next = current as { cause?: unknown; originalError?: unknown };
    current = next.cause ?? next.originalError;
  }
}

function codeOf(error: unknown): string | undefined {
  for (const e of causes(error)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

const RETRYABLE = new Set(['40001', '40P01']); // serialization failure, deadlock

/** A transaction that failed only because of another one: run it again. */
export function isRetryable(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && RETRYABLE.has(code);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

/**
 * The database cannot be reached or is refusing work right now, as opposed to a bug: the
 * caller should answer 503 so the sender retries later.
 */
export function isUnavailable(error: unknown): boolean {
  const code = codeOf(error);
  if (code !== undefined) {
    if (NETWORK_CODES.has(code)) return true;
    // 08: connection exception; 53: insufficient resources; 57P0x: shutting down or starting.
    if (/^08|^53|^57P0[1-4]$/.test(code)) return true;
    if (RETRYABLE.has(code)) return true; // still conflicting after our own retries
    if (code === '25006') return true; // read-only transaction: a failover is under way
  }
  for (const e of causes(error)) {
    if (e instanceof Error && /PGlite is closed/i.test(e.message)) return true;
  }
  return false;
}

/** What to check, for an error met while opening the database at start (by its code). */
const OPEN_HINTS: Record<string, string> = {
  ECONNREFUSED: 'nothing is listening there: is Postgres running, and are the host and port in DATABASE_URL right?',
  ENOTFOUND: 'that host name does not resolve: check the host in DATABASE_URL',
  EAI_AGAIN: 'that host name does not resolve: check the host in DATABASE_URL',
  ETIMEDOUT: 'no answer from that host: check the host and port in DATABASE_URL, and that this machine can reach it',
  CONNECT_TIMEOUT: 'no answer from that host: check the host and port in DATABASE_URL, and that this machine can reach it',
  EHOSTUNREACH: 'that host cannot be reached from here: check the host in DATABASE_URL',
  ENETUNREACH: 'that host cannot be reached from here: check the host in DATABASE_URL',
  '28P01': 'the password does not match that user: check the user and password in DATABASE_URL',
  '28000': 'Postgres does not let that user in from here (pg_hba.conf, or a role without LOGIN): check the user in DATABASE_URL',
  '3D000': 'that database does not exist: create it (createdb <name>) or fix its name in DATABASE_URL',
  '57P03': 'Postgres is still starting up',
  // TLS (db/tls.ts): the server's certificate did not verify.
  SELF_SIGNED_CERT_IN_CHAIN: "the server's certificate does not chain to the CA in sslrootcert: give the CA certificate your Postgres provider publishes (sslrootcert=<file> in DATABASE_URL)",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's certificate does not chain to the CA in sslrootcert: give the CA certificate your Postgres provider publishes (sslrootcert=<file> in DATABASE_URL)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the server's certificate does not chain to a CA this machine knows: give your provider's CA as sslrootcert=<file> in DATABASE_URL",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server's certificate is self-signed: give it as sslrootcert=<file> in DATABASE_URL, or use sslmode=require to encrypt without checking it",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's certificate is for another host name (sslmode=verify-full): connect by the name on the certificate, or use sslmode=verify-ca",
  CERT_HAS_EXPIRED: "the server's certificate has expired",
};

/**
 * One line a person can act on, for a failure to open the database: where, what went wrong
 * (its first line and code, never a stack), and what to check.
 */
export function describeOpenFailure(error: unknown, where: string): string {
  const code = codeOf(error);
  let message = 'unknown error';
  for (const e of causes(error)) {
    if (e instanceof Error && e.message) {
      message = e.message.split('\n')[0]!;
      break;
    }
  }
  const said = code !== undefined && !message.includes(code) ? `${message} (${code})` : message;
  const hint = code === undefined ? undefined : OPEN_HINTS[code];
  return `cannot open ${where}: ${said}${hint ? `. ${hint[0]!.toUpperCase()}${hint.slice(1)}` : ''}`;
}
