// GraphiQL at /graphiql, served entirely from files installed with the service: it has to work
// on a machine with no internet, and a browser using it must never talk to anything but this
// origin (the API key pasted into it would otherwise be one script include away from a CDN).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

export interface GraphiqlOptions {
  /** Absolute path of the GraphQL endpoint on this origin, e.g. `/graphql`. */
  graphqlPath: string;
}

export const GRAPHIQL_PATH = '/graphiql';
const ASSETS_PATH = `${GRAPHIQL_PATH}/assets`;

/** Never a real key: the page is public, the key is the user's to paste. */
export const DEFAULT_HEADERS = JSON.stringify({ Authorization: 'Bearer <paste your API key>' }, null, 2);

/**
 * Examples listed in the default query's comment. Each is a complete document so the unit test
 * can validate it against schema.graphql, like the default query itself.
 */
export const EXAMPLE_QUERIES = [
  '{ members(filter: {search: "ada"}) { totalCount } }',
  '{ connections(filter: {kind: SAML}) { totalCount } }',
  '{ changes(first: 20) { edges { cursor } } }',
  '{ deliveries(first: 5) { edges { cursor } } }',
];

/**
 * The comment lines are short: GraphiQL gives the query editor about half the window, and a
 * line longer than it is cut off (at 1400 px, 560 px: about 58 characters are in view).
 */
export const MAX_COMMENT_LINE = 54;

const DIRECTORY_QUERY = `query Directory {
  viewer {
    role
    name
  }
  tenants(first: 10) {
    totalCount
    edges {
      node {
        id
        provider
        externalId
        name
        connections(first: 5) {
          edges {
            node {
              kind
              name
              status
            }
          }
        }
        members(first: 5) {
          totalCount
          edges {
            node {
              email
              status
              groups(first: 5) {
                edges {
                  node {
                    name
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}
`;

export const DEFAULT_QUERY = [
  '# Welcome to the directory-sync GraphQL API.',
  '#',
  '# 1. Paste your API key in the Headers tab below,',
  '#    in place of <paste your API key>. `npm start`',
  '#    printed an admin key; or create one with',
  '#    npm run apikey -- create --name <label>',
  '# 2. Run this query: the ▶ button, or Ctrl-Enter.',
  '# 3. The book icon (top left) documents each field.',
  '#',
  '# This browser keeps the headers across reloads',
  '# (localStorage): on a shared machine, clear them in',
  '# the settings dialog.',
  '#',
  '# More to try:',
  ...EXAMPLE_QUERIES.map((q) => `# ${q}`),
  '',
  DIRECTORY_QUERY,
].join('\n');

interface Asset {
  contentType: string;
  body: Buffer;
  /** Of the content, whatever the encoding: hence a weak ETag. */
  hash: string;
  /** Compressed on first request that accepts it, then kept. */
  gzipped?: Promise<Buffer>;
}

const require = createRequire(import.meta.url);
// react and react-dom declare `exports` without their UMD builds, so those cannot be resolved
// directly; their package.json is exported, and the UMD files sit next to it.
const besidePackageJson = (pkg: string, file: string) => join(dirname(require.resolve(`${pkg}/package.json`)), file);
const ownFile = (file: string) => fileURLToPath(new URL(`./graphiql/${file}`, import.meta.url));

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** The only files served under /graphiql/assets/, in the order the page loads them. */
const ASSET_FILES: ReadonlyArray<{ name: string; path: () => string; contentType: string }> = [
  { name: 'graphiql.min.css', path: () => require.resolve('graphiql/graphiql.min.css'), contentType: CSS },
  { name: 'page.css', path: () => ownFile('page.css'), contentType: CSS },
  { name: 'react.production.min.js', path: () => besidePackageJson('react', 'umd/react.production.min.js'), contentType: JS },
  {
    name: 'react-dom.production.min.js',
    path: () => besidePackageJson('react-dom', 'umd/react-dom.production.min.js'),
    contentType: JS,
  },
  { name: 'graphiql.min.js', path: () => require.resolve('graphiql/graphiql.min.js'), contentType: JS },
  { name: 'init.js', path: () => ownFile('init.js'), contentType: JS },
];

// The source maps are not shipped: without this the browser's devtools would ask for them and
// log a 404 for each.
const SOURCE_MAP_COMMENT = /\n(?:\/\/# sourceMappingURL=\S+|\/\*# sourceMappingURL=[^*\s]+\s*\*\/)\s*$/;

let cachedAssets: Map<string, Asset> | undefined;

/**
 * Read once per process, at registration: a missing file (a build that forgot to copy
 * src/http/graphiql/) stops the service at start instead of breaking the page later.
 */
function loadAssets(): Map<string, Asset> {
  if (cachedAssets) return cachedAssets;
  const assets = new Map<string, Asset>();
  for (const file of ASSET_FILES) {
    let path: string;
    let raw: Buffer;
    try {
      path = file.path();
      raw = readFileSync(path);
    } catch (error) {
      throw new Error(`GraphiQL asset ${file.name} is missing: ${(error as Error).message}`, { cause: error });
    }
    const body = Buffer.from(raw.toString('utf8').replace(SOURCE_MAP_COMMENT, '\n'), 'utf8');
    const hash = createHash('sha256').update(body).digest('base64url').slice(0, 22);
    assets.set(file.name, { contentType: file.contentType, body, hash });
  }
  cachedAssets = assets;
  return assets;
}

const gzipAsync = promisify(gzip);

function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding?.trim() !== 'gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** `<script>` data blocks end at the first `</script`: keep `<` out of the JSON text. */
const jsonForScript = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

function pageHtml(assets: Map<string, Asset>, config: Record<string, unknown>): string {
  // The hash in each URL lets the browser cache an asset for good and still see an upgrade.
  const url = (name: string) => `${ASSETS_PATH}/${name}?v=${assets.get(name)?.hash.slice(0, 12) ?? ''}`;
  const styles = ASSET_FILES.filter((f) => f.contentType === CSS)
    .map((f) => `    <link rel="stylesheet" href="${url(f.name)}">`)
    .join('\n');
  const scripts = ASSET_FILES.filter((f) => f.contentType === JS)
    .map((f) => `    <script src="${url(f.name)}"></script>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="no-referrer">
    <title>GraphiQL · directory-sync</title>
    <!-- An empty icon, or the browser asks this server for /favicon.ico. -->
    <link rel="icon" href="data:,">
${styles}
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <noscript>GraphiQL needs JavaScript.</noscript>
    <script type="application/json" id="graphiql-config">${jsonForScript(config)}</script>
${scripts}
  </body>
</html>
`;
}

// A Host header is whatever the client sent; only a plain host[:port] goes into the policy.
const PLAIN_HOST = /^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * The page's Content-Security-Policy. Scripts only from this origin (no inline script, no
 * eval); GraphiQL's CSS embeds its fonts as data: URLs and its components set inline styles.
 * connect-src names the WebSocket URL of this very host because browsers differ on whether
 * 'self' covers ws:/wss:, and both schemes because TLS may end at a proxy in front of us.
 */
export function contentSecurityPolicy(host: string | undefined): string {
  const ws = host && PLAIN_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    `connect-src 'self'${ws}`,
    "img-src 'self' data:",
    "font-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function commonHeaders(reply: FastifyReply): FastifyReply {
  return reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
}

export const graphiqlRoutes =
  (options: GraphiqlOptions): FastifyPluginAsync =>
  async (app) => {
    const assets = loadAssets();
    const html = pageHtml(assets, {
      graphqlPath: options.graphqlPath,
      defaultQuery: DEFAULT_QUERY,
      defaultHeaders: DEFAULT_HEADERS,
    });

    const page = async (request: FastifyRequest, reply: FastifyReply) =>
      commonHeaders(reply)
        .header('content-type', 'text/html; charset=utf-8')
        .header('content-security-policy', contentSecurityPolicy(request.headers.host))
        .header('x-frame-options', 'DENY')
        // Small, and the policy in its header depends on the Host it was asked for.
        .header('cache-control', 'no-cache')
        .send(html);
    app.get(GRAPHIQL_PATH, page);
    app.get(`${GRAPHIQL_PATH}/`, page);

    app.get<{ Params: { name: string } }>(`${ASSETS_PATH}/:name`, async (request, reply) => {
      const asset = assets.get(request.params.name);
      if (!asset) return reply.code(404).send({ error: `no GraphiQL asset named ${request.params.name}` });
      const etag = `W/"${asset.hash}"`;
      commonHeaders(reply)
        .header('content-type', asset.contentType)
        .header('etag', etag)
        .header('vary', 'accept-encoding')
        // Page URLs carry the content hash, so a cached copy is never stale.
        .header('cache-control', 'public, max-age=31536000, immutable');
      const ifNoneMatch = request.headers['if-none-match'];
      if (ifNoneMatch?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === `"${asset.hash}"`)) {
        return reply.code(304).send();
      }
      if (acceptsGzip(request.headers['accept-encoding'])) {
        asset.gzipped ??= gzipAsync(asset.body);
        return reply.header('content-encoding', 'gzip').send(await asset.gzipped);
      }
      return reply.send(asset.body);
    });
  };
