// The GraphiQL page on its own (no database): its preloaded queries stay valid against the
// published schema, and what it serves keeps to the Content-Security-Policy it sends.
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildSchema, parse, validate } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  contentSecurityPolicy,
  DEFAULT_HEADERS,
  DEFAULT_QUERY,
  EXAMPLE_QUERIES,
  MAX_COMMENT_LINE,
  graphiqlRoutes,
} from '../../src/http/graphiql.js';

const schema = buildSchema(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));

const errorsOf = (source: string) => validate(schema, parse(source)).map((e) => e.message);

describe('GraphiQL default query', () => {
  it('is valid against schema.graphql', () => {
    expect(errorsOf(DEFAULT_QUERY)).toEqual([]);
  });

  it.each(EXAMPLE_QUERIES)('lists a valid example: %s', (example) => {
    expect(errorsOf(example)).toEqual([]);
    expect(DEFAULT_QUERY).toContain(`# ${example}\n`);
  });

  it('holds a single operation, so the run button runs it without asking which', () => {
    expect(parse(DEFAULT_QUERY).definitions).toHaveLength(1);
  });

  it('has no comment line wider than half a 1400 px window shows', () => {
    for (const line of DEFAULT_QUERY.split('\n').filter((l) => l.startsWith('#'))) expect(line.length, line).toBeLessThanOrEqual(MAX_COMMENT_LINE);
  });

  it('tells how to authenticate, with a placeholder and never a key', () => {
    expect(DEFAULT_QUERY).toContain('npm start');
    expect(JSON.parse(DEFAULT_HEADERS)).toEqual({ Authorization: 'Bearer <paste your API key>' });
  });
});

describe('GraphiQL Content-Security-Policy', () => {
  const directives = (policy: string) =>
    Object.fromEntries(policy.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));

  it('allows scripts from this origin only and WebSockets to this host only', () => {
    const policy = directives(contentSecurityPolicy('localhost:4000'));
    expect(policy['default-src']).toEqual(["'none'"]);
    expect(policy['script-src']).toEqual(["'self'"]);
    expect(policy['connect-src']).toEqual(["'self'", 'ws://localhost:4000', 'wss://localhost:4000']);
    expect(policy['frame-ancestors']).toEqual(["'none'"]);
  });

  it.each(['[::1]:4000', 'directory.example.com', '127.0.0.1:80'])('names the host %s', (host) => {
    expect(directives(contentSecurityPolicy(host))['connect-src']).toContain(`ws://${host}`);
  });

  // A Host header is client input: nothing odd may be written into the policy.
  it.each([undefined, '', 'evil.com; script-src *', 'a b', 'host:port', 'x/y'])(
    'falls back to same-origin only for Host %j',
    (host) => {
      expect(directives(contentSecurityPolicy(host))['connect-src']).toEqual(["'self'"]);
    },
  );
});

describe('GraphiQL routes', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify();
    await app.register(graphiqlRoutes({ graphqlPath: '/graphql' }));
  });
  afterAll(() => app.close());

  it('serves a page with no inline script and its settings in a JSON data block', async () => {
    const response = await app.inject({ url: '/graphiql', headers: { host: 'localhost:4000' } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['content-security-policy']).toBe(contentSecurityPolicy('localhost:4000'));
    const scripts = [...response.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, content] of scripts) {
      if (attributes?.includes('type="application/json"')) continue;
      expect(attributes).toMatch(/ src="\/graphiql\/assets\/[\w.-]+\?v=[\w-]+"/);
      expect(content).toBe('');
    }
    const config = /<script type="application\/json" id="graphiql-config">([^<]*)<\/script>/.exec(response.body);
    expect(JSON.parse(config?.[1] ?? 'null')).toEqual({
      graphqlPath: '/graphql',
      defaultQuery: DEFAULT_QUERY,
      defaultHeaders: DEFAULT_HEADERS,
    });
    // Every URL in the page is on this origin (data: only for the empty icon).
    for (const [, url] of response.body.matchAll(/(?:src|href)="([^"]*)"/g)) {
      expect(url).toMatch(/^(\/graphiql\/assets\/|data:,$)/);
    }
  });

  it('serves the page at /graphiql/ too', async () => {
    const response = await app.inject({ url: '/graphiql/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('answers a repeated asset request with 304 and compresses when asked', async () => {
    const first = await app.inject({ url: '/graphiql/assets/graphiql.min.js' });
    expect(first.statusCode).toBe(200);
    const etag = String(first.headers.etag);
    const again = await app.inject({ url: '/graphiql/assets/graphiql.min.js', headers: { 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    const gzipped = await app.inject({
      url: '/graphiql/assets/graphiql.min.js',
      headers: { 'accept-encoding': 'br;q=1, gzip;q=0.8' },
    });
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.rawPayload.length).toBeLessThan(first.rawPayload.length / 3);
    const identity = await app.inject({ url: '/graphiql/assets/init.js', headers: { 'accept-encoding': 'gzip;q=0' } });
    expect(identity.headers['content-encoding']).toBeUndefined();
  });

  it('does not ship source-map references to files it does not serve', async () => {
    for (const name of ['graphiql.min.js', 'graphiql.min.css']) {
      const response = await app.inject({ url: `/graphiql/assets/${name}` });
      expect(response.body).not.toContain('sourceMappingURL');
    }
  });
});
