// npm run trigger -- <polis|stytch|workos> <event>: signs a realistic sample event with the
// configured (or locally generated) secret, posts it to a running server, prints the answer.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { resolveSecrets } from '../local-secrets.js';
import {
  POLIS_SAMPLES,
  polisSample,
  STYTCH_SAMPLE_NAMES,
  stytchSample,
  WORKOS_SAMPLE_NAMES,
  workosSample,
  type StytchSource,
} from '../samples/events.js';
import { applySets, SampleEditError } from '../samples/edit.js';
import { polisHeaders, stytchHeaders, workosHeaders } from '../samples/sign.js';

const USAGE = `Usage:
  npm run trigger -- <source> <event> [--set <field>=<value> ...] [--add <field>=<value> ...] [--url <base url>] [--via DASHBOARD|DIRECT|SCIM]
  npm run trigger -- --all [<source>] [--url <base url>]
  npm run trigger -- --list

Examples:
  npm run trigger -- stytch member.created
  npm run trigger -- polis sso.deactivated
  npm run trigger -- workos dsync.user.created
  npm run trigger -- polis user.created --url http://localhost:4000
  npm run trigger -- stytch member.updated --set name="Ada King" --set email_address=ada@acme.example

Each *.updated sample changes a visible field (a name) to a new value, so every one sent is
applied and pushed as UPDATED. --set sets a field of the event's object (Polis: data; Stytch:
the member, organization, ...), dotted for nested fields; a value that reads as JSON (true, 42,
null, ["a"]) is sent as that, anything else as a string. --set refuses a field the object does
not have (a typo would otherwise go out as a new field); --add sends one it does not have. An
update sent after a delete brings the object back: subscribers see it CREATED again.
  npm run trigger -- --all          # every sample of both providers, in the order --list shows`;

type Source = 'polis' | 'stytch' | 'workos';
const SOURCES: readonly Source[] = ['polis', 'stytch', 'workos'];

/** Every event the trigger can send, in the order --list shows and --all sends them. */
function allEvents(): [Source, string][] {
  return [
    ...Object.keys(POLIS_SAMPLES).map((e) => ['polis', e] as [Source, string]),
    ...STYTCH_SAMPLE_NAMES.map((e) => ['stytch', e] as [Source, string]),
    ...WORKOS_SAMPLE_NAMES.map((e) => ['workos', e] as [Source, string]),
  ];
}

function list(): string {
  return [
    'polis events:',
    ...Object.keys(POLIS_SAMPLES).map((e) => `  polis ${e}`),
    '',
    'stytch events (--via DASHBOARD|DIRECT|SCIM picks the source; default DIRECT, SCIM for scim_*):',
    ...STYTCH_SAMPLE_NAMES.map((e) => `  stytch ${e}`),
    '',
    'workos events:',
    ...WORKOS_SAMPLE_NAMES.map((e) => `  workos ${e}`),
  ].join('\n');
}

/** Why a send could not even be made: the process exits with `code` after saying `message`. */
class CannotSend extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

interface Sent {
  url: string;
  status: number;
  statusText: string;
  /** The answer, pretty-printed when it is JSON. */
  text: string;
  /** The delivery's status from the answer (applied, duplicate, ignored, ...), if it said one. */
  outcome: string | undefined;
}

interface Target {
  base: string;
  polisSecret: string | undefined;
  stytchSecret: string | undefined;
  workosSecret: string | undefined;
}

/** What --set and --add ask to change in the sample. */
interface Edits {
  sets: readonly string[];
  adds: readonly string[];
}
const NO_EDITS: Edits = { sets: [], adds: [] };

/** --set and --add mistakes end the run like any other reason a send cannot be made (exit 2). */
function edit(source: Source, event: string, payload: Record<string, unknown>, edits: Edits): void {
  try {
    applySets(source, event, payload, edits.sets, edits.adds);
  } catch (error) {
    if (error instanceof SampleEditError) throw new CannotSend(error.message, 2);
    throw error;
  }
}

/** Per provider: its sample, the setting its secret comes from, and how it signs. */
const PROVIDERS: Record<Source, { sample(event: string, via: StytchSource | undefined): Record<string, unknown> | undefined; setting: string; secret(t: Target): string | undefined; headers(secret: string, body: string): Record<string, string> }> = {
  polis: { sample: (e) => polisSample(e), setting: 'POLIS_WEBHOOK_SECRET', secret: (t) => t.polisSecret, headers: polisHeaders },
  stytch: { sample: (e, via) => stytchSample(e, via ? { source: via } : {}), setting: 'STYTCH_WEBHOOK_SECRET', secret: (t) => t.stytchSecret, headers: stytchHeaders },
  workos: { sample: (e) => workosSample(e), setting: 'WORKOS_WEBHOOK_SECRET', secret: (t) => t.workosSecret, headers: workosHeaders },
};

function signed(
  target: Target,
  source: Source,
  event: string,
  via: StytchSource | undefined,
  edits: Edits = NO_EDITS,
): { body: string; headers: Record<string, string> } {
  const provider = PROVIDERS[source];
  const payload = provider.sample(event, via);
  if (!payload) throw unknownEvent(source, event);
  const secret = provider.secret(target);
  if (!secret) throw noSecret(provider.setting);
  edit(source, event, payload, edits);
  const body = JSON.stringify(payload);
  return { body, headers: provider.headers(secret, body) };
}

async function send(target: Target, source: Source, event: string, via?: StytchSource, edits: Edits = NO_EDITS): Promise<Sent> {
  const { body, headers } = signed(target, source, event, via, edits);
  const url = `${target.base}/webhooks/${source}`;
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers, body });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new CannotSend(
      cause?.code === 'ECONNREFUSED'
        ? `nothing is listening at ${target.base}: start the service with \`npm start\` (or pass --url)`
        : `request to ${url} failed: ${cause?.message ?? (error as Error).message}`,
      1,
    );
  }
  const raw = await response.text();
  let text = raw;
  let outcome: string | undefined;
  try {
    const json = JSON.parse(raw) as unknown;
    text = JSON.stringify(json, null, 2);
    const status = (json as { status?: unknown } | null)?.status;
    if (typeof status === 'string') outcome = status;
  } catch {
    // Not JSON: printed as it came.
  }
  return { url, status: response.status, statusText: response.statusText, text, outcome };
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      list: { type: 'boolean' },
      all: { type: 'boolean' },
      url: { type: 'string' },
      via: { type: 'string' },
      set: { type: 'string', multiple: true },
      add: { type: 'string', multiple: true },
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
  const via = values.via?.toUpperCase();
  if (via !== undefined && !['DASHBOARD', 'DIRECT', 'SCIM'].includes(via)) {
    console.error(`--via must be DASHBOARD, DIRECT or SCIM, not ${values.via}`);
    return 2;
  }

  let events: [Source, string][];
  if (values.all && (values.set || values.add)) {
    console.error(`${values.set ? '--set' : '--add'} edits one event: use it without --all`);
    return 2;
  }
  if (values.all) {
    const [only, ...rest] = positionals;
    if (rest.length > 0 || (only !== undefined && !isSource(only))) {
      console.error(only !== undefined && !isSource(only) ? `unknown source ${only}: use polis, stytch or workos` : USAGE);
      return 2;
    }
    events = allEvents().filter(([source]) => only === undefined || source === only);
  } else {
    const [source, event] = positionals;
    if (!source || !event || positionals.length > 2) {
      console.error(USAGE);
      return 2;
    }
    if (!isSource(source)) {
      console.error(`unknown source ${source}: use polis, stytch or workos`);
      return 2;
    }
    if (!(source === 'polis' ? Object.hasOwn(POLIS_SAMPLES, event) : source === 'workos' ? WORKOS_SAMPLE_NAMES.includes(event) : STYTCH_SAMPLE_NAMES.includes(event))) {
      console.error(unknownEvent(source, event).message);
      return 2;
    }
    events = [[source, event]];
  }

  const { config } = await resolveSecrets(loadConfig());
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const target: Target = {
    base: (values.url ?? `http://${host}:${config.port}`).replace(/\/+$/, ''),
    polisSecret: config.polisSecrets[0],
    stytchSecret: config.stytchSecrets[0],
    workosSecret: config.workosSecrets[0],
  };

  try {
    if (!values.all) {
      const [[source, event]] = events as [[Source, string]];
      console.log(`POST ${target.base}/webhooks/${source}  (${source} ${event})`);
      const sent = await send(target, source, event, via as StytchSource | undefined, { sets: values.set ?? [], adds: values.add ?? [] });
      console.log(`${sent.status} ${sent.statusText}`);
      console.log(sent.text);
      return sent.status >= 200 && sent.status < 300 ? 0 : 1;
    }
    // One line an event, so a long run shows its progress; the whole answer only for failures.
    let failed = 0;
    for (const [i, [source, event]] of events.entries()) {
      const sent = await send(target, source, event, via as StytchSource | undefined);
      const ok = sent.status >= 200 && sent.status < 300;
      if (!ok) failed++;
      const counter = `[${String(i + 1).padStart(String(events.length).length)}/${events.length}]`;
      console.log(`${counter} ${sent.status} ${sent.statusText}  ${source} ${event}${sent.outcome ? `  ${sent.outcome}` : ''}`);
      if (!ok) console.log(sent.text);
    }
    console.log(`${events.length - failed} of ${events.length} events accepted${failed ? `, ${failed} refused` : ''}`);
    return failed === 0 ? 0 : 1;
  } catch (error) {
    if (!(error instanceof CannotSend)) throw error;
    console.error(error.message);
    return error.code;
  }
}

function isSource(name: string): name is Source {
  return (SOURCES as readonly string[]).includes(name);
}

function unknownEvent(source: string, event: string): CannotSend {
  return new CannotSend(`unknown ${source} event ${event}; \`npm run trigger -- --list\` shows them all`, 2);
}

function noSecret(name: string): CannotSend {
  return new CannotSend(`${name} is not set and no local secret exists (production mode generates none)`, 1);
}

run(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    console.error(error instanceof ConfigError || error instanceof TypeError ? error.message : error);
    process.exit(2);
  });
