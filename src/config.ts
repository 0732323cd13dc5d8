// The one place that reads the environment. Everything else receives a Config.
import { z } from 'zod';
import type { ClaimSettings } from './auth/claims.js';
import { ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, type JwtKeys, type JwtSettings } from './auth/jwt.js';

export const MAX_BODY_BYTES = 1024 * 1024;
/**
 * A GraphQL request (HTTP body or WebSocket message). The API only reads, so a request is a
 * document and a few variables; GRAPHQL_MAX_TOKENS bounds the document well below this.
 */
export const MAX_GRAPHQL_BYTES = 64 * 1024;

/** Empty strings (as docker-compose passes for unset `${VAR:-}`) count as unset. */
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** `900`, `900s`, `15m`, `6h` in milliseconds. */
function durationMs(text: string): number {
  const [, n, unit] = /^(\d+)([smh]?)$/.exec(text) ?? [];
  return Number(n) * { s: 1000, m: 60_000, h: 3_600_000 }[(unit || 's') as 's' | 'm' | 'h'];
}

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: optionalString.refine(
    (v) => v === undefined || /^postgres(ql)?:\/\//.test(v),
    'must be a postgres:// or postgresql:// URL',
  ),
  DATA_DIR: z.string().min(1).default('./data'),
  POLIS_WEBHOOK_SECRET: optionalString,
  POLIS_SCOPED_SECRETS: optionalString,
  // Reconciliation reads Polis's REST API here, with one of its API_KEYS.
  POLIS_API_URL: optionalString.refine((v) => v === undefined || /^https?:\/\//.test(v), 'must be an http:// or https:// URL'),
  POLIS_API_KEY: optionalString,
  // Reconciliation reads Stytch's B2B API with the project's id and secret; the URL follows the project.
  STYTCH_PROJECT_ID: optionalString,
  STYTCH_SECRET: optionalString,
  STYTCH_API_URL: optionalString.refine((v) => v === undefined || /^https?:\/\//.test(v), 'must be an http:// or https:// URL'),
  // Reconciliation reads WorkOS's API (and its Events API) with a secret key (sk_...).
  WORKOS_API_KEY: optionalString,
  WORKOS_API_URL: optionalString.refine((v) => v === undefined || /^https?:\/\//.test(v), 'must be an http:// or https:// URL'),
  // /metrics: on the main port behind this bearer token, and/or on a port of its own (no token).
  // The token is held to the rule of ADMIN_API_KEY: it guards what the service reveals of itself.
  METRICS_TOKEN: optionalString.refine(
    (v) => v === undefined || (v.length >= 16 && !/\s/.test(v)),
    'must be at least 16 characters with no spaces (it is sent as "Authorization: Bearer <token>")',
  ),
  // Traces (OpenTelemetry, OTLP over HTTP): the standard variables; off unless an endpoint is set.
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalString.pipe(z.url().optional()),
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString.pipe(z.url().optional()),
  OTEL_EXPORTER_OTLP_HEADERS: optionalString,
  OTEL_EXPORTER_OTLP_PROTOCOL: optionalString.pipe(z.enum(['http/json']).optional()),
  OTEL_SERVICE_NAME: optionalString,
  OTEL_SDK_DISABLED: optionalString.pipe(z.enum(['true', 'false']).optional()),
  OTEL_TRACES_SAMPLER_ARG: optionalString.refine((v) => v === undefined || /^(0(\.\d+)?|1(\.0*)?|\.\d+)$/.test(v), 'must be a number from 0 to 1'),
  // Where METRICS_PORT listens: loopback unless said otherwise (metrics there take no token).
  METRICS_HOST: optionalString,
  METRICS_PORT: optionalString.refine((v) => v === undefined || (/^\d{1,5}$/.test(v) && Number(v) <= 65535), 'must be a port number (0: any free port)'),
  // How often every known tenant is reconciled: 900, 900s, 15m, 6h. Unset: never on a schedule.
  RECONCILE_INTERVAL: optionalString.refine(
    (v) => v === undefined || (/^\d+[smh]?$/.test(v) && durationMs(v) >= 60_000),
    'must be a duration of at least a minute: seconds, or a number with s, m or h (15m, 6h)',
  ),
  // Retention (days; 0 keeps for ever): delivery bodies and outcomes, the change feed, and how
  // long delivery rows (with their idempotency keys) outlive their bodies at least.
  DELIVERY_RETENTION_DAYS: z.coerce.number().min(0).max(36_500).default(30),
  DELIVERY_KEY_RETENTION_DAYS: z.coerce.number().min(1).max(36_500).default(4),
  // Rejected deliveries (kept whole for a replay once a new version reads them): this many days. 0: for ever.
  REJECTED_RETENTION_DAYS: z.coerce.number().min(0).max(36_500).default(90),
  REJECTED_MAX_PER_SENDER: z.coerce.number().int().min(0).max(100_000_000).default(1000),
  // Events one delivery may carry; a delivery with more is kept whole as rejected (replayable).
  WEBHOOK_MAX_EVENTS: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  CHANGES_RETENTION_DAYS: z.coerce.number().min(0).max(36_500).default(30),
  RETENTION_INTERVAL: optionalString.refine(
    (v) => v === undefined || (/^\d+[smh]?$/.test(v) && durationMs(v) >= 1000),
    'must be a duration: seconds, or a number with s, m or h (10m, 1h)',
  ),
  RETENTION_BATCH: z.coerce.number().int().min(1).max(100_000).default(500),
  WEBHOOK_SECRET: optionalString,
  STYTCH_WEBHOOK_SECRET: optionalString,
  WORKOS_WEBHOOK_SECRET: optionalString,
  WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
  ADMIN_API_KEY: optionalString.refine(
    (v) => v === undefined || (v.length >= 16 && !/\s/.test(v)),
    'must be at least 16 characters with no spaces (it is sent as "Authorization: Bearer <key>")',
  ),
  CORS_ORIGINS: optionalString,
  // Frontends' own sign-in tokens (auth/jwt.ts): one of the three keys turns them on.
  JWT_JWKS_URL: optionalString.refine((v) => v === undefined || /^https?:\/\/\S+$/.test(v), 'must be an http(s) URL'),
  JWT_PUBLIC_KEY: optionalString,
  JWT_SECRET: optionalString.refine((v) => v === undefined || v.length >= 32, 'must be at least 32 characters'),
  JWT_ALGORITHMS: optionalString,
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  JWT_CLOCK_SKEW_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
  JWT_JWKS_COOLDOWN_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
  JWT_TENANT_CLAIM: optionalString,
  JWT_ADMIN_CLAIM: optionalString,
  // A token without `exp` is refused unless this is set: then one is taken while its `iat` is
  // no older than this (seconds), and its socket closed when it gets so old.
  JWT_MAX_AGE_SECONDS: z.coerce.number().int().min(1).max(31_536_000).optional(),
  // Changes buffered per subscription for a client that reads slower than they arrive; past
  // it the socket is closed (4413) and the client resumes from its last cursor.
  SUBSCRIPTION_BUFFER: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  // Query limits, for HTTP and WebSocket alike (see graphql/limits.ts).
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(1).max(1000).default(12),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).max(10_000).default(15),
  GRAPHQL_MAX_DIRECTIVES: z.coerce.number().int().min(0).max(10_000).default(25),
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(100).max(1_000_000).default(2000),
  GRAPHQL_MAX_COST: z.coerce.number().int().min(1).max(1_000_000_000).default(50_000),
  // How queries are answered: 'sql' (one compiled statement, src/read) or 'resolvers' (the
  // resolver path the compiled one is tested against: a way back should a compiled answer be wrong).
  GRAPHQL_READ_PATH: optionalString.pipe(z.enum(['sql', 'resolvers']).optional()),
  // A manifest of trusted documents (@apollo/generate-persisted-query-manifest's format): when
  // set, viewers other than admin keys run only its operations (graphql/trusted-documents.ts).
  GRAPHQL_TRUSTED_DOCUMENTS: optionalString,
  // Unset: on, except under NODE_ENV=production.
  GRAPHQL_INTROSPECTION: optionalString.pipe(z.enum(['true', 'false']).optional()),
  // Operations (subscriptions or queries) one WebSocket may run at once.
  WS_MAX_SUBSCRIPTIONS: z.coerce.number().int().min(1).max(10_000).default(100),
  GRAPHQL_MAX_CONCURRENT_PER_KEY: z.coerce.number().int().min(1).max(10_000).default(4),
  // Per minute and instance; HTTP requests and WebSocket opens + operations counted apart. 0: off.
  // How long a valid API key is remembered; revocation notices forget it. 0 (the default): off,
  // so a revocation applies to the very next request; on, once each instance has the notice.
  API_KEY_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(0),
  GRAPHQL_RATE_PER_KEY: z.coerce.number().int().min(0).max(100_000_000).default(3000),
  WS_MAX_SOCKETS_PER_KEY: z.coerce.number().int().min(1).max(1_000_000).default(500),
  WS_MAX_SUBSCRIPTIONS_PER_KEY: z.coerce.number().int().min(1).max(10_000_000).default(5000),
  // Named prepared statements (one round trip each); 'false' behind PgBouncer in transaction mode before 1.21.
  DATABASE_PREPARED_STATEMENTS: optionalString.pipe(z.enum(['true', 'false']).optional()),
  // The database itself, where DATABASE_URL is a pooler in transaction mode: LISTEN and session locks connect here.
  DATABASE_SESSION_URL: optionalString,
  // Read replicas of DATABASE_URL, comma-separated: queries and live payloads read there.
  DATABASE_READ_URLS: optionalString,
  DATABASE_READ_MAX_LAG_SECONDS: z.coerce.number().min(0).max(86_400).default(10),
  // Group commit: deliveries applied in one transaction, and such transactions at once.
  INGEST_BATCH_MAX: z.coerce.number().int().min(1).max(1000).default(50),
  INGEST_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(1),
  HTTP_KEEP_ALIVE_SECONDS: z.coerce.number().int().min(1).max(600).default(5),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** What one GraphQL operation may ask for (graphql/limits.ts enforces them). */
export interface QueryLimits {
  /** Nesting of fields through fragments (which add no level), introspection's own not counted. */
  maxDepth: number;
  maxAliases: number;
  /** Directives in one operation (@include, @skip, ...). */
  maxDirectives: number;
  /** Lexical tokens in the document: bounds parsing work and memory before anything else. */
  maxTokens: number;
  /** Objects the operation may load: see costOf in graphql/limits.ts. */
  maxCost: number;
  /** Whether `__schema` / `__type` may be asked (GraphiQL needs it). */
  introspection: boolean;
}

export interface TracingConfig {
  /** Where spans are POSTed (OTLP/HTTP, JSON). */
  url: string;
  headers: Record<string, string>;
  serviceName: string;
  /** Share of traces kept (a webhook's or request's own decision, followed by what it causes). */
  ratio: number;
}

/** OTEL_EXPORTER_OTLP_HEADERS: `k=v,k2=v2`, values percent-encoded (the OpenTelemetry spec's form). */
function otlpHeaders(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (text ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    out[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return out;
}

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  /** Ory Polis signing secrets, used as UTF-8 bytes. Empty: not configured. */
  polisSecrets: string[];
  /** Polis secrets that may only write the tenant (product, directory) they are scoped to. */
  polisScopedSecrets: ScopedSecret[];
  /** Polis's REST API for reconciliation; undefined when not configured. */
  polisApi: { url: string; key: string } | undefined;
  /** Stytch's B2B API for reconciliation; undefined when not configured. */
  stytchApi: { url: string | undefined; projectId: string; secret: string } | undefined;
  /** WorkOS's API for reconciliation; undefined when not configured (no WORKOS_API_KEY). */
  workosApi: { url: string; key: string } | undefined;
  /** OpenTelemetry traces: undefined when off (no OTLP endpoint, or OTEL_SDK_DISABLED). */
  tracing: TracingConfig | undefined;
  /** Prometheus metrics: undefined when off (neither METRICS_TOKEN nor METRICS_PORT). */
  metrics: { token: string | undefined; port: number | undefined; host: string } | undefined;
  /** Rejected deliveries kept per sender and tenant (REJECTED_MAX_PER_SENDER); more are not acknowledged (503, retried by the sender). Undefined: no bound. */
  rejectedPerSender: number | undefined;
  /** Events one delivery may carry (WEBHOOK_MAX_EVENTS); more: kept whole as rejected. */
  webhookMaxEvents: number;
  /** Reconcile every known tenant this often; undefined: only when asked. */
  reconcileIntervalMs: number | undefined;
  /** What is pruned and when (days undefined: kept for ever). */
  retention: {
    deliveryDays: number | undefined;
    deliveryKeyDays: number;
    rejectedDays: number | undefined;
    changesDays: number | undefined;
    intervalMs: number;
    batchSize: number;
  };
  /** Svix secrets (`whsec_...`). Empty: not configured. */
  stytchSecrets: string[];
  /** WorkOS webhook endpoint secrets, used as UTF-8 bytes. Empty: not configured. */
  workosSecrets: string[];
  toleranceSeconds: number;
  adminApiKey: string | undefined;
  /** Set by resolveSecrets when adminApiKey is the generated local key rather than ADMIN_API_KEY. */
  adminApiKeyIsLocal?: boolean;
  corsOrigins: string[];
  /** Frontends' tokens: undefined when off (no JWT_JWKS_URL, JWT_PUBLIC_KEY or JWT_SECRET). */
  jwt: (JwtSettings & ClaimSettings) | undefined;
  subscriptionBuffer: number;
  graphqlLimits: QueryLimits;
  /** Operations one WebSocket may run at once. */
  wsMaxSubscriptions: number;
  /** GraphQL HTTP requests one key may have in progress at once on one instance. */
  graphqlMaxConcurrentPerKey: number;
  /** GRAPHQL_READ_PATH: queries answered by a compiled statement (true) or by the resolvers. */
  graphqlCompiledReads: boolean;
  /** GRAPHQL_TRUSTED_DOCUMENTS: the manifest's path, when only its operations may run (admin keys aside). */
  graphqlTrustedDocuments: string | undefined;
  /** Named prepared statements on Postgres (false behind a pooler that cannot keep them). */
  databasePreparedStatements: boolean;
  /** DATABASE_SESSION_URL: where LISTEN and session locks connect; undefined: DATABASE_URL. */
  databaseSessionUrl: string | undefined;
  /** DATABASE_READ_URLS: read replicas of DATABASE_URL (empty: none). */
  databaseReadUrls: string[];
  /** DATABASE_READ_MAX_LAG_SECONDS: a replica further behind is left out of queries. */
  databaseReadMaxLagSeconds: number;
  /** Most deliveries applied in one transaction (group commit). */
  ingestBatchMax: number;
  /** Most ingest transactions at work at once on one instance. */
  ingestConcurrency: number;
  /** GraphQL requests one key may start per minute on one instance (HTTP and WebSocket apart); 0: no limit. */
  graphqlRatePerKey: number;
  apiKeyCacheMs: number;
  /** WebSockets one API key may hold open on one instance. */
  wsMaxSocketsPerKey: number;
  /** Operations one API key may run at once on one instance, over all its sockets. */
  wsMaxSubscriptionsPerKey: number;
  /** How long an idle keep-alive HTTP connection is kept open. */
  keepAliveTimeoutMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** A sender secret that authenticates events of one tenant (and product, and directory) only. */
export interface ScopedSecret {
  secret: string;
  tenant: string;
  product?: string;
  directory?: string;
}

/**
 * POLIS_SCOPED_SECRETS: comma-separated `<tenant>[/<product>[/<directory id>]]=<secret>`, the
 * scope percent-encoded where it holds `/`, `=`, `,` or `%`. The secret is everything after the
 * first `=`. Errors name the entry by position, never by its secret.
 */
function parseScopedSecrets(value: string | undefined): ScopedSecret[] {
  return splitList(value, /,/).map((entry, i) => {
    const at = entry.indexOf('=');
    const secret = at < 0 ? '' : entry.slice(at + 1).trim();
    const parts = at < 0 ? [] : entry.slice(0, at).trim().split('/');
    let decoded: string[];
    try {
      decoded = parts.map((p) => decodeURIComponent(p));
    } catch {
      decoded = [];
    }
    if (secret === '' || decoded.length < 1 || decoded.length > 3 || decoded.some((p) => p === '')) {
      throw new ConfigError(
        `invalid configuration: POLIS_SCOPED_SECRETS entry ${i + 1} must be <tenant>[/<product>[/<directory id>]]=<secret>`,
      );
    }
    const [tenant, product, directory] = decoded as [string, string?, string?];
    return { secret, tenant, ...(product === undefined ? {} : { product }), ...(directory === undefined ? {} : { directory }) };
  });
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const splitList = (value: string | undefined, separator: RegExp): string[] =>
  (value ?? '')
    .split(separator)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

const STYTCH_SECRET = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

/**
 * JWT sign-in, or undefined when no key is set. One key source; issuer and audience required
 * (a token for another service must not open this one); the algorithms only those the key can
 * be used with, so that a public key can never be taken for an HMAC secret.
 */
function jwtSettings(e: z.infer<typeof envSchema>): (JwtSettings & ClaimSettings) | undefined {
  const sources = [
    e.JWT_JWKS_URL && { jwksUrl: e.JWT_JWKS_URL },
    // A PEM in one line of an env file, with its line breaks written as \n.
    e.JWT_PUBLIC_KEY && { publicKey: e.JWT_PUBLIC_KEY.replace(/\\n/g, '\n') },
    e.JWT_SECRET && { secret: e.JWT_SECRET },
  ].filter((k): k is JwtKeys => Boolean(k));
  if (sources.length === 0) return undefined;
  if (sources.length > 1) throw new ConfigError('invalid configuration: set one of JWT_JWKS_URL, JWT_PUBLIC_KEY and JWT_SECRET, not several');
  const keys = sources[0]!;
  if (!e.JWT_ISSUER || !e.JWT_AUDIENCE) {
    throw new ConfigError('invalid configuration: JWT sign-in needs JWT_ISSUER and JWT_AUDIENCE (the iss and aud your tokens carry)');
  }
  const hmac = 'secret' in keys;
  const allowed = hmac ? HMAC_ALGORITHMS : ASYMMETRIC_ALGORITHMS;
  const algorithms = e.JWT_ALGORITHMS ? splitList(e.JWT_ALGORITHMS, /,/) : hmac ? ['HS256'] : ['RS256', 'ES256'];
  const wrong = algorithms.filter((a) => !allowed.includes(a));
  if (wrong.length > 0) {
    throw new ConfigError(
      `invalid configuration: JWT_ALGORITHMS ${wrong.join(', ')} cannot be used with ${hmac ? 'JWT_SECRET' : 'a public key'}: use ${allowed.join(', ')}`,
    );
  }
  if ('publicKey' in keys && algorithms.length !== 1) {
    throw new ConfigError('invalid configuration: with JWT_PUBLIC_KEY, JWT_ALGORITHMS names the one algorithm of that key (RS256, ES256, ...)');
  }
  return {
    keys,
    algorithms,
    issuer: e.JWT_ISSUER,
    audience: e.JWT_AUDIENCE,
    clockSkewSeconds: e.JWT_CLOCK_SKEW_SECONDS,
    ...(e.JWT_MAX_AGE_SECONDS !== undefined ? { maxAgeSeconds: e.JWT_MAX_AGE_SECONDS } : {}),
    jwksCooldownMs: e.JWT_JWKS_COOLDOWN_SECONDS * 1000,
    tenantClaim: e.JWT_TENANT_CLAIM ?? 'dsync_tenant',
    adminClaim: e.JWT_ADMIN_CLAIM ?? 'dsync_admin',
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;

  // Polis calls its setting WEBHOOK_SECRET; we accept both names and merge them.
  const polisSecrets = [
    ...new Set([...splitList(e.POLIS_WEBHOOK_SECRET, /,/), ...splitList(e.WEBHOOK_SECRET, /,/)]),
  ];
  const stytchSecrets = [...new Set(splitList(e.STYTCH_WEBHOOK_SECRET, /[\s,]+/))];
  const badStytch = stytchSecrets.filter((s) => !STYTCH_SECRET.test(s));
  if (badStytch.length > 0) {
    // Never echo the secret itself: say which one by position.
    const positions = badStytch.map((s) => stytchSecrets.indexOf(s) + 1).join(', ');
    throw new ConfigError(
      `invalid configuration: STYTCH_WEBHOOK_SECRET entry ${positions} is not a Svix secret (expected whsec_ followed by base64)`,
    );
  }

  if ((e.POLIS_API_URL === undefined) !== (e.POLIS_API_KEY === undefined)) {
    throw new ConfigError('invalid configuration: POLIS_API_URL and POLIS_API_KEY go together (reconciliation needs both)');
  }
  const readUrls = splitList(e.DATABASE_READ_URLS, /,/);
  if (readUrls.length > 0 && e.DATABASE_URL === undefined) {
    throw new ConfigError('invalid configuration: DATABASE_READ_URLS names replicas of a Postgres: set DATABASE_URL (the embedded database has no replicas)');
  }
  const badRead = readUrls.findIndex((u) => !/^postgres(ql)?:\/\//.test(u));
  if (badRead >= 0) {
    throw new ConfigError(`invalid configuration: DATABASE_READ_URLS entry ${badRead + 1} must be a postgres:// or postgresql:// URL`);
  }
  if ((e.STYTCH_PROJECT_ID === undefined) !== (e.STYTCH_SECRET === undefined)) {
    throw new ConfigError('invalid configuration: STYTCH_PROJECT_ID and STYTCH_SECRET go together (reconciliation needs both)');
  }

  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    polisSecrets,
    polisScopedSecrets: parseScopedSecrets(e.POLIS_SCOPED_SECRETS),
    polisApi: e.POLIS_API_URL && e.POLIS_API_KEY ? { url: e.POLIS_API_URL, key: e.POLIS_API_KEY } : undefined,
    stytchApi: e.STYTCH_PROJECT_ID && e.STYTCH_SECRET ? { url: e.STYTCH_API_URL, projectId: e.STYTCH_PROJECT_ID, secret: e.STYTCH_SECRET } : undefined,
    workosApi: e.WORKOS_API_KEY ? { url: e.WORKOS_API_URL ?? 'https://api.workos.com', key: e.WORKOS_API_KEY } : undefined,
    tracing:
      e.OTEL_SDK_DISABLED !== 'true' && (e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || e.OTEL_EXPORTER_OTLP_ENDPOINT)
        ? {
            url: e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${e.OTEL_EXPORTER_OTLP_ENDPOINT!.replace(/\/$/, '')}/v1/traces`,
            headers: otlpHeaders(e.OTEL_EXPORTER_OTLP_HEADERS),
            serviceName: e.OTEL_SERVICE_NAME ?? 'directory-sync',
            ratio: e.OTEL_TRACES_SAMPLER_ARG === undefined ? 1 : Number(e.OTEL_TRACES_SAMPLER_ARG),
          }
        : undefined,
    metrics:
      e.METRICS_TOKEN || e.METRICS_PORT
        ? { token: e.METRICS_TOKEN, port: e.METRICS_PORT === undefined ? undefined : Number(e.METRICS_PORT), host: e.METRICS_HOST ?? '127.0.0.1' }
        : undefined,
    reconcileIntervalMs: e.RECONCILE_INTERVAL === undefined ? undefined : durationMs(e.RECONCILE_INTERVAL),
    webhookMaxEvents: e.WEBHOOK_MAX_EVENTS,
    rejectedPerSender: e.REJECTED_MAX_PER_SENDER === 0 ? undefined : e.REJECTED_MAX_PER_SENDER,
    retention: {
      deliveryDays: e.DELIVERY_RETENTION_DAYS === 0 ? undefined : e.DELIVERY_RETENTION_DAYS,
      deliveryKeyDays: e.DELIVERY_KEY_RETENTION_DAYS,
      rejectedDays: e.REJECTED_RETENTION_DAYS === 0 ? undefined : e.REJECTED_RETENTION_DAYS,
      changesDays: e.CHANGES_RETENTION_DAYS === 0 ? undefined : e.CHANGES_RETENTION_DAYS,
      intervalMs: e.RETENTION_INTERVAL === undefined ? 3_600_000 : durationMs(e.RETENTION_INTERVAL),
      batchSize: e.RETENTION_BATCH,
    },
    stytchSecrets,
    workosSecrets: [...new Set(splitList(e.WORKOS_WEBHOOK_SECRET, /,/))],
    toleranceSeconds: e.WEBHOOK_TOLERANCE_SECONDS,
    adminApiKey: e.ADMIN_API_KEY,
    corsOrigins: splitList(e.CORS_ORIGINS, /,/),
    jwt: jwtSettings(e),
    subscriptionBuffer: e.SUBSCRIPTION_BUFFER,
    graphqlLimits: {
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxDirectives: e.GRAPHQL_MAX_DIRECTIVES,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
      maxCost: e.GRAPHQL_MAX_COST,
      // Introspection tells anyone who can reach the API its whole shape; in production only on request.
      introspection: e.GRAPHQL_INTROSPECTION === undefined ? e.NODE_ENV !== 'production' : e.GRAPHQL_INTROSPECTION === 'true',
    },
    wsMaxSubscriptions: e.WS_MAX_SUBSCRIPTIONS,
    graphqlMaxConcurrentPerKey: e.GRAPHQL_MAX_CONCURRENT_PER_KEY,
    graphqlCompiledReads: e.GRAPHQL_READ_PATH !== 'resolvers',
    graphqlTrustedDocuments: e.GRAPHQL_TRUSTED_DOCUMENTS,
    databasePreparedStatements: e.DATABASE_PREPARED_STATEMENTS !== 'false',
    databaseSessionUrl: e.DATABASE_SESSION_URL,
    databaseReadUrls: readUrls,
    databaseReadMaxLagSeconds: e.DATABASE_READ_MAX_LAG_SECONDS,
    ingestBatchMax: e.INGEST_BATCH_MAX,
    ingestConcurrency: e.INGEST_CONCURRENCY,
    graphqlRatePerKey: e.GRAPHQL_RATE_PER_KEY,
    apiKeyCacheMs: e.API_KEY_CACHE_SECONDS * 1000,
    wsMaxSocketsPerKey: e.WS_MAX_SOCKETS_PER_KEY,
    wsMaxSubscriptionsPerKey: e.WS_MAX_SUBSCRIPTIONS_PER_KEY,
    keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_SECONDS * 1000,
    logLevel: e.LOG_LEVEL,
  };
}
