// npm run trigger -- <polis|stytch> <event>: signs a realistic sample event with the
// configured (or locally generated) secret, posts it to a running server, prints the answer.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { resolveSecrets } from '../local-secrets.js';
import { POLIS_SAMPLES, polisSample, STYTCH_SAMPLE_NAMES, stytchSample, type StytchSource } from '../samples/events.js';
import { polisHeaders, stytchHeaders } from '../samples/sign.js';

const USAGE = `Usage:
  npm run trigger -- <source> <event> [--url <base url>] [--via DASHBOARD|DIRECT|SCIM]
  npm run trigger -- --list

Examples:
  npm run trigger -- stytch member.created
  npm run trigger -- polis sso.deactivated
  npm run trigger -- polis user.created --url http://localhost:4000`;

function list(): string {
  return [
    'polis events:',
    ...Object.keys(POLIS_SAMPLES).map((e) => `  polis ${e}`),
    '',
    'stytch events (--via DASHBOARD|DIRECT|SCIM picks the source; default DIRECT, SCIM for scim_*):',
    ...STYTCH_SAMPLE_NAMES.map((e) => `  stytch ${e}`),
  ].join('\n');
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      list: { type: 'boolean' },
      url: { type: 'string' },
      via: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.list) {
    console.log(list());
    return 0;
  }
  const [source, event] = positionals;
  if (!source || !event || positionals.length > 2) {
    console.error(USAGE);
    return 2;
  }
  const via = values.via?.toUpperCase();
  if (via !== undefined && !['DASHBOARD', 'DIRECT', 'SCIM'].includes(via)) {
    console.error(`--via must be DASHBOARD, DIRECT or SCIM, not ${values.via}`);
    return 2;
  }

  const { config } = await resolveSecrets(loadConfig());
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const base = (values.url ?? `http://${host}:${config.port}`).replace(/\/+$/, '');

  let payload: Record<string, unknown> | undefined;
  let headers: Record<string, string>;
  let body: string;
  if (source === 'polis') {
    payload = polisSample(event);
    if (!payload) return unknownEvent(source, event);
    const secret = config.polisSecrets[0];
    if (!secret) return noSecret('POLIS_WEBHOOK_SECRET');
    body = JSON.stringify(payload);
    headers = polisHeaders(secret, body);
  } else if (source === 'stytch') {
    payload = stytchSample(event, via ? { source: via as StytchSource } : {});
    if (!payload) return unknownEvent(source, event);
    const secret = config.stytchSecrets[0];
    if (!secret) return noSecret('STYTCH_WEBHOOK_SECRET');
    body = JSON.stringify(payload);
    headers = stytchHeaders(secret, body);
  } else {
    console.error(`unknown source ${source}: use polis or stytch`);
    return 2;
  }

  const url = `${base}/webhooks/${source}`;
  console.log(`POST ${url}  (${source} ${event})`);
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers, body });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    console.error(
      cause?.code === 'ECONNREFUSED'
        ? `nothing is listening at ${base}: start the service with \`npm start\` (or pass --url)`
        : `request to ${url} failed: ${cause?.message ?? (error as Error).message}`,
    );
    return 1;
  }
  const text = await response.text();
  console.log(`${response.status} ${response.statusText}`);
  try {
    console.log(JSON.stringify(JSON.parse(text), null, 2));
  } catch {
    console.log(text);
  }
  return response.ok ? 0 : 1;
}

function unknownEvent(source: string, event: string): number {
  console.error(`unknown ${source} event ${event}; \`npm run trigger -- --list\` shows them all`);
  return 2;
}

function noSecret(name: string): number {
  console.error(`${name} is not set and no local secret exists (production mode generates none)`);
  return 1;
}

run(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    console.error(error instanceof ConfigError || error instanceof TypeError ? error.message : error);
    process.exit(2);
  });
