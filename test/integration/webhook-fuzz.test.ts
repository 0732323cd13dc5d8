// Property-based fuzzing of both webhook endpoints on a running server. Random bytes, random
// and hostile JSON, mutated provider events and mutated signature headers: whatever arrives,
// the answer is the contract's (DESIGN.md "Webhook responses") and never a 5xx, every error
// is `{"error": string}`, and the only deliveries stored are correctly signed ones that were
// answered 2xx. bad-input.test.ts and signatures.test.ts hold the hand-written cases; this
// file only generates.
import { createHash, createHmac } from 'node:crypto';
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { query } from '../support/db.js';
import { WORKOS_SAMPLE_NAMES, workosSample } from '../../src/samples/events.js';
import type { Json } from '../../src/directory/types.js';
import { stytchEvent } from '../support/directory.js';
import { polisAll, stytchSeed, uniquify } from '../support/fixtures.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { newPolisSecret, newStytchSecret, newSvixId, svixSignature } from '../support/sign.js';
import { budget } from '../support/time.js';
import { propertyRuns } from '../support/effort.js';

// TEST_EFFORT=10 for a longer search (support/effort.ts); PROPERTY_SEED=<seed> replays a reported failure.
const RUNS = propertyRuns(60);
const SEED = process.env.PROPERTY_SEED ? { seed: Number(process.env.PROPERTY_SEED) } : {};
const PROPERTY_TIMEOUT = budget(180_000);
const MIB = 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A 400 names what is wrong: a field path (`data.id`, `[1].tenant`, `member`) or the body. */
// A path of names, [indexes] and ["quoted keys"], or the body as a whole.
const NAMES_THE_PROBLEM = /^(invalid event: (body|[A-Za-z_$][\w$]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\])(\.[A-Za-z_$][\w$]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\])*: \S|body\b.*\S)/;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

// --- What the server was sent and what it stored --------------------------------------------

/** deliveryId -> the keys stored for it, for every delivery this file saw answered 2xx. */
const ledger = new Map<string, Set<string>>();
const serverErrors: string[] = [];
let sent = 0;

interface Reply {
  status: number;
  text: string;
  json: unknown;
}

type HeaderList = [string, string][];

/** POSTs exact bytes with exact headers (a repeated name is sent twice); no implicit content type. */
async function deliver(source: 'stytch' | 'polis' | 'workos', body: Buffer, headers: HeaderList): Promise<Reply> {
  sent++;
  const response = await fetch(`${server.url}/webhooks/${source}`, { method: 'POST', headers, body });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (response.status >= 500) serverErrors.push(`${source} ${response.status} ${text} <- ${body.subarray(0, 200).toString()}`);
  return { status: response.status, text, json };
}

/** What a request may be answered, and which delivery keys it may leave behind. */
interface Expected {
  statuses: number[];
  /** Keys stored whenever it is accepted (its certainly valid signatures). */
  definite: string[];
  /** Keys it may also leave (signatures in a form the contract neither requires nor forbids). */
  possible?: string[];
  /** For a 400: what the error must say (default: it names the problem). */
  error?: RegExp;
}

/**
 * The invariants every answer keeps, then the ledger: a 2xx stores exactly keys of this
 * request's valid signatures, a duplicate points at a delivery stored before.
 */
async function check(reply: Reply, expected: Expected): Promise<void> {
  const context = `answered ${reply.status}: ${reply.text.slice(0, 300)}`;
  expect(reply.status, context).toBeLessThan(500);
  expect(expected.statuses, context).toContain(reply.status);
  if (reply.status >= 400) {
    expect(reply.json, context).toEqual({ error: expect.any(String) });
    const { error } = reply.json as { error: string };
    expect(error.length, context).toBeGreaterThan(0);
    if (reply.status === 400) expect(error, context).toMatch(expected.error ?? NAMES_THE_PROBLEM);
    return;
  }
  expect(reply.json, context).toEqual({
    deliveryId: expect.stringMatching(UUID),
    status: expect.stringMatching(/^(applied|unchanged|stale|ignored|rejected|duplicate)$/),
    applied: expect.any(Number),
    rejected: expect.any(Number),
  });
  const { deliveryId, status } = reply.json as { deliveryId: string; status: string };
  const allowed = new Set([...expected.definite, ...(expected.possible ?? [])]);
  if (status === 'duplicate') {
    const original = ledger.get(deliveryId);
    expect(original, `${context}: a duplicate of a delivery never stored`).toBeDefined();
    expect([...original!].some((key) => allowed.has(key)), `${context}: a duplicate sharing no key`).toBe(true);
    return;
  }
  expect(ledger.has(deliveryId), `${context}: a new delivery reusing an id`).toBe(false);
  const rows = await query(server.database, sql`select key from delivery_keys where delivery_id = ${deliveryId}`);
  const keys = rows.map((r) => String(r.key));
  expect(keys.length, context).toBeGreaterThan(0);
  // A new delivery keeps only its keys no earlier delivery has (see claim() in the store).
  const earlier = (key: string) => [...ledger.values()].some((known) => known.has(key));
  for (const key of expected.definite) expect(keys.includes(key) || earlier(key), `${context}: ${key} kept`).toBe(true);
  for (const key of keys) expect(allowed.has(key), `${context}: stored ${key}, not a key of a valid signature`).toBe(true);
  ledger.set(deliveryId, new Set(keys));
}

// --- Signing, as the providers do ------------------------------------------------------------

const unixSeconds = (at: Date) => String(Math.floor(at.getTime() / 1000));

/** Svix signs the body as a UTF-8 string (the svix library decodes a Buffer the same way). */
function stytchHeaders(secret: string, body: Buffer, id = newSvixId(), at = new Date()): HeaderList {
  return [
    ['svix-id', id],
    ['svix-timestamp', unixSeconds(at)],
    ['svix-signature', svixSignature(secret, id, at, body.toString())],
  ];
}

const polisS = (secret: string, t: number, body: Buffer) =>
  createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
const polisValue = (secret: string, t: number, body: Buffer) => `t=${t},s=${polisS(secret, t, body)}`;

/** As Polis sends them: two headers, a millisecond apart. */
function polisHeaders(secret: string, body: Buffer, t = Date.now()): HeaderList {
  return [
    ['BoxyHQ-Signature', polisValue(secret, t, body)],
    ['Ory-Polis-Signature', polisValue(secret, t + 1, body)],
  ];
}

/** src/sources/polis: one key per valid signing time, whichever header carried it. */
const polisKey = (_name: string, t: number, body: Buffer) => `polis:${createHash('sha256').update(`${t}.`).update(body).digest('hex')}`;
const polisKeys = (body: Buffer, t: number) => [polisKey('boxyhq-signature', t, body), polisKey('ory-polis-signature', t + 1, body)];

const JSON_TYPE: HeaderList = [['content-type', 'application/json']];

/** WorkOS: `t=<ms>, v1=<hex HMAC-SHA256 of "<t>.<body>">`, made here with node's crypto. */
function workosHeaders(secret: string, body: Buffer, t = Date.now()): HeaderList {
  return [['WorkOS-Signature', `t=${t}, v1=${createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex')}`]];
}

/**
 * src/sources/workos: the event id when the body is an object with one that text can hold (no
 * NUL, no half of a surrogate pair), else the body's hash.
 */
function workosKey(body: Buffer): string {
  try {
    const id = (JSON.parse(body.toString('utf8')) as { id?: unknown } | null)?.id;
    const storable = typeof id === 'string' && !id.includes('\u0000') && !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(id);
    if (typeof id === 'string' && id !== '' && id.length <= 256 && storable) return `workos:${id}`;
  } catch {
    // not JSON
  }
  return `workos-body:${createHash('sha256').update(body).digest('hex')}`;
}

/** The delivery keys of a body signed with these headers (the headers made above). */
function polisOrSvixKeys(source: 'polis' | 'stytch', body: Buffer, signature: HeaderList): string[] {
  if (source === 'stytch') return [`svix:${signature.find(([name]) => name === 'svix-id')![1]}`];
  return signature.map(([name, value]) => polisKey(name, Number(/^t=(\d+)/.exec(value)![1]), body));
}

// --- JSON built as text, so it can hold what JSON.stringify cannot make ----------------------
// Duplicate keys, `__proto__` as an own key and nesting deeper than the stack are written as
// text fragments, never as JavaScript values.

type Tree =
  | { kind: 'raw'; text: string }
  | { kind: 'array'; items: Tree[] }
  | { kind: 'object'; entries: [string, Tree][] }
  /** `depth` nested arrays, or objects `{"a":{"a":...0}}`. */
  | { kind: 'deep'; depth: number; object: boolean }
  /** A string of `length` characters that do not compress. */
  | { kind: 'noise'; length: number; seed: number };

const raw = (text: string): Tree => ({ kind: 'raw', text });

function treeOf(value: unknown): Tree {
  if (Array.isArray(value)) return { kind: 'array', items: value.map(treeOf) };
  if (value !== null && typeof value === 'object') {
    return { kind: 'object', entries: Object.entries(value).map(([k, v]): [string, Tree] => [k, treeOf(v)]) };
  }
  return raw(JSON.stringify(value) ?? 'null');
}

/** The JSON text; `brief` abbreviates what is long, for a readable counterexample. */
function textOf(tree: Tree, brief = false): string {
  switch (tree.kind) {
    case 'raw':
      return tree.text;
    case 'array':
      return `[${tree.items.map((t) => textOf(t, brief)).join(',')}]`;
    case 'object':
      return `{${tree.entries.map(([k, v]) => `${JSON.stringify(k)}:${textOf(v, brief)}`).join(',')}}`;
    case 'deep':
      if (brief) return tree.object ? `{"a": ×${tree.depth} 0}` : `[ ×${tree.depth} ]`;
      return tree.object ? `${'{"a":'.repeat(tree.depth)}0${'}'.repeat(tree.depth)}` : `${'['.repeat(tree.depth)}${']'.repeat(tree.depth)}`;
    case 'noise':
      return brief ? `"<${tree.length} noise characters>"` : JSON.stringify(noise(tree.length, tree.seed));
  }
}

/** Shows `value` in a failure report as `text` (fast-check prints arbitrary values). */
const shownAs = <T extends object>(value: T, text: string): T => Object.assign(value, { [fc.toStringMethod]: () => text });

/** `length` printable characters that do not compress (no quote or backslash: no escaping). */
function noise(length: number, seed: number): string {
  const bytes = Buffer.alloc(length);
  let x = seed | 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const c = 0x23 + ((x >>> 0) % 0x58);
    bytes[i] = c === 0x5c ? 0x7b : c;
  }
  return bytes.toString('latin1');
}

/** Characters that break naive storage or printing: NUL, lone surrogates, BOM, separators. */
const nastyChar = fc.constantFrom(
  '\u0000', '\u0001', '\u001f', '\u007f', '\ud800', '\udfff', '\ufeff', '\u2028', '\uffff',
  '\u{1f600}', '"', '\\', '/', 'é', 'e\u0301', 'a', ' ', '%', "'",
);
const unicodeText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ unit: nastyChar, maxLength: 12 }),
);
const hugeText = fc
  .record({ length: fc.integer({ min: 2_000, max: 200_000 }), seed: fc.integer() })
  .map(({ length, seed }): Tree => ({ kind: 'noise', length, seed }));
const deep = fc
  .record({ depth: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1_000, max: 40_000 })), object: fc.boolean() })
  .map(({ depth, object }): Tree => ({ kind: 'deep', depth, object }));
const leaf: fc.Arbitrary<Tree> = fc.oneof(
  fc.constantFrom('null', 'true', 'false', '0', '-0', '1e400', '-1e400', '1e-400', '123456789012345678901234567890', '9007199254740993', '""').map(raw),
  fc.double().map((n) => raw(JSON.stringify(n))),
  unicodeText.map((s) => raw(JSON.stringify(s))),
  fc.string({ maxLength: 16 }).map((s) => raw(JSON.stringify(s))),
  hugeText,
  deep,
);
const key = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', 'clientSecret', 'client_secret', 'id', 'data', 'event', 'member', 'object_type'),
  fc.string({ maxLength: 10 }),
  unicodeText,
);
const { tree: anyTree } = fc.letrec<{ tree: Tree; array: Tree; object: Tree }>((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('tree'), { maxLength: 4 }).map((items): Tree => ({ kind: 'array', items })),
  object: fc.array(fc.tuple(key, tie('tree')), { maxLength: 4 }).map((entries): Tree => ({ kind: 'object', entries })),
}));
const anyJson = fc.oneof(anyTree, fc.jsonValue({ stringUnit: 'binary' }).map(treeOf));

// --- Provider events and their mutations -----------------------------------------------------

let tags = 0;
/** A fresh copy of a seed (its own ids), so runs do not overwrite each other's objects. */
const seedTree = (event: Record<string, unknown>) => treeOf(uniquify(event, `fz${(tags++).toString(16).padStart(10, '0')}`));

type Mutation =
  | { op: 'delete'; at: number }
  | { op: 'null'; at: number }
  | { op: 'retype'; at: number; to: string }
  | { op: 'replace'; at: number; value: Tree }
  | { op: 'duplicateKey'; at: number; value: Tree; last: boolean };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('null' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('retype' as const), at: fc.nat(), to: fc.constantFrom('0', '-1.5', 'true', '""', '"x"', '[]', '{}', '[1]', '{"a":1}') }),
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value: anyJson }),
  fc.record({ op: fc.constant('duplicateKey' as const), at: fc.nat(), value: anyJson, last: fc.boolean() }),
);

interface Slot {
  parent: Extract<Tree, { kind: 'array' | 'object' }>;
  index: number;
}

/** Every value below the root, as (container, position). */
function slots(tree: Tree, out: Slot[] = []): Slot[] {
  if (tree.kind === 'array') tree.items.forEach((item, index) => (out.push({ parent: tree, index }), slots(item, out)));
  if (tree.kind === 'object') tree.entries.forEach(([, v], index) => (out.push({ parent: tree, index }), slots(v, out)));
  return out;
}

function set(slot: Slot, value: Tree) {
  if (slot.parent.kind === 'array') slot.parent.items[slot.index] = value;
  else slot.parent.entries[slot.index]![1] = value;
}

function mutate(tree: Tree, m: Mutation): void {
  const all = slots(tree);
  if (m.op === 'duplicateKey') {
    const objects = [tree, ...all.map((s) => (s.parent.kind === 'array' ? s.parent.items[s.index]! : s.parent.entries[s.index]![1]))]
      .filter((t): t is Extract<Tree, { kind: 'object' }> => t.kind === 'object' && t.entries.length > 0);
    const target = objects[m.at % Math.max(objects.length, 1)];
    if (!target) return;
    const [name] = target.entries[m.at % target.entries.length]!;
    // JSON.parse keeps the last of duplicate keys: first, the original wins; last, the copy.
    if (m.last) target.entries.push([name, structuredClone(m.value)]);
    else target.entries.unshift([name, structuredClone(m.value)]);
    return;
  }
  const slot = all[m.at % Math.max(all.length, 1)];
  if (!slot) return;
  if (m.op === 'delete') {
    if (slot.parent.kind === 'array') slot.parent.items.splice(slot.index, 1);
    else slot.parent.entries.splice(slot.index, 1);
  } else {
    // A copy: later mutations must not change the value fast-check generated (it shrinks from it).
    set(slot, m.op === 'null' ? raw('null') : m.op === 'retype' ? raw(m.to) : structuredClone(m.value));
  }
}

/** A mutated seed event as the bytes to send; `truncate` cuts the text anywhere before its end. */
interface MutatedSeed {
  source: 'stytch' | 'polis';
  body: Buffer;
  truncated: boolean;
}

const mutatedSeed: fc.Arbitrary<MutatedSeed> = fc
  .record({
    source: fc.constantFrom('stytch' as const, 'polis' as const),
    seed: fc.nat(),
    /** Polis only: a batch of this and the next seed. */
    batch: fc.boolean(),
    mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
    truncate: fc.option(fc.nat(), { freq: 5 }),
  })
  .map(({ source, seed, batch, mutations, truncate }) => {
    const seeds = source === 'stytch' ? stytchSeed : polisAll;
    const first = seedTree(seeds[seed % seeds.length]!.event);
    const tree: Tree =
      source === 'polis' && batch
        ? { kind: 'array', items: [first, seedTree(seeds[(seed + 1) % seeds.length]!.event)] }
        : first;
    for (const m of mutations) mutate(tree, m);
    const full = Buffer.from(textOf(tree));
    const body = truncate === null ? full : full.subarray(0, truncate % full.length);
    const cut = truncate === null ? '' : ` (cut to its first ${body.length} of ${full.length} bytes)`;
    return shownAs({ source, body, truncated: truncate !== null }, `${source}: ${textOf(tree, true)}${cut}`);
  });

// --- Headers ---------------------------------------------------------------------------------

/** Header values fetch can send: printable ASCII, tab and Latin-1, no CR/LF/NUL. */
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }),
  fc.constant(0x09),
  fc.integer({ min: 0x80, max: 0xff }),
).map((c) => String.fromCharCode(c));
const headerText = fc.string({ unit: headerChar, maxLength: 80 });
const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const base64Of32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64'));

/**
 * Content types: application/json in any case and with parameters is taken; a charset other
 * than UTF-8 may be refused (JSON has no charset parameter); anything else is 415.
 */
const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ headers: JSON_TYPE, taken: 'yes' as const }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=UTF-8').map((v) => ({
      headers: [['content-type', v]] as HeaderList,
      taken: 'yes' as const,
    })),
  },
  { weight: 1, arbitrary: fc.constant({ headers: [['content-type', 'application/json; charset=utf-16']] as HeaderList, taken: 'maybe' as const }) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom<string | null>(null, '', 'text/plain', 'text/json', 'application/jsonx', 'application/json-patch+json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x')
      .map((v) => ({ headers: (v === null ? [] : [['content-type', v]]) as HeaderList, taken: 'no' as const })),
  },
);

/** The statuses of a request whose content type is `taken` and whose signature check gives `signed`. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * What a correctly signed body is answered: 2xx if it is JSON at all (an event that cannot be
 * read is kept as `rejected`, never refused), 400 if it is not.
 */
function signedStatuses(body: Buffer): number[] {
  try {
    JSON.parse(strictUtf8.decode(body));
    return [200];
  } catch {
    return [400];
  }
}

function statusesFor(taken: 'yes' | 'maybe' | 'no', signed: number[], body: Buffer): number[] {
  if (taken === 'no') return [415];
  const past = body.length > MIB ? [413] : signed;
  return taken === 'maybe' ? [415, ...past] : past;
}

// --- The properties --------------------------------------------------------------------------

describe(`webhook fuzzing (${backend})`, () => {
  it('random bytes and real events, unsigned or with random or well-formed wrong headers: 401 (or 415)', { timeout: PROPERTY_TIMEOUT }, async () => {
    const stytchForged = fc.record({
      id: fc.option(fc.oneof(headerText, hex32.map((h) => `msg_${h.slice(0, 24)}`))),
      timestamp: fc.option(fc.oneof(headerText, fc.integer({ min: -600, max: 600 }).map((d) => String(Math.floor(Date.now() / 1000) + d)))),
      signature: fc.option(fc.oneof(headerText, base64Of32.map((s) => `v1,${s}`), fc.array(base64Of32.map((s) => `v1,${s}`), { maxLength: 3 }).map((s) => s.join(' ')))),
    });
    const polisForged = fc.array(
      fc.tuple(
        fc.constantFrom('BoxyHQ-Signature', 'Ory-Polis-Signature', 'Ory-Signature'),
        fc.oneof(headerText, fc.tuple(fc.integer({ min: -400_000, max: 400_000 }), hex32).map(([d, s]) => `t=${Date.now() + d},s=${s}`)),
      ),
      { maxLength: 3 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
          fc.nat().map((n) => shownAs(Buffer.from(JSON.stringify(uniquify(stytchSeed[n % stytchSeed.length]!.event))), `Stytch seed ${n % stytchSeed.length}`)),
          fc.nat().map((n) => shownAs(Buffer.from(JSON.stringify(uniquify(polisAll[n % polisAll.length]!.event))), `Polis seed ${n % polisAll.length}`)),
        ),
        fc.oneof(
          stytchForged.map((h) => ({
            source: 'stytch' as const,
            headers: [
              ...(h.id === null ? [] : [['svix-id', h.id]]),
              ...(h.timestamp === null ? [] : [['svix-timestamp', h.timestamp]]),
              ...(h.signature === null ? [] : [['svix-signature', h.signature]]),
            ] as HeaderList,
          })),
          polisForged.map((headers) => ({ source: 'polis' as const, headers })),
        ),
        contentType,
        async (body, { source, headers }, type) => {
          const reply = await deliver(source, body, [...type.headers, ...headers]);
          await check(reply, { statuses: statusesFor(type.taken, [401], body), definite: [] });
        },
      ),
      { numRuns: RUNS, ...SEED },
    );
  });

  it('random bytes signed correctly: 400 naming the body, 2xx when they happen to be JSON (or 415)', { timeout: PROPERTY_TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('stytch' as const, 'polis' as const),
        fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
        contentType,
        async (source, body, type) => {
          const signature = source === 'stytch' ? stytchHeaders(server.stytchSecret, body) : polisHeaders(server.polisSecret, body);
          const reply = await deliver(source, body, [...type.headers, ...signature]);
          const json = signedStatuses(body)[0] === 200;
          await check(reply, { statuses: statusesFor(type.taken, signedStatuses(body), body), definite: json ? polisOrSvixKeys(source, body, signature) : [] });
        },
      ),
      { numRuns: RUNS, ...SEED },
    );
  });

  it('random JSON signed correctly, alone or inside a real event: 2xx (applied or kept as rejected), never 4xx', { timeout: PROPERTY_TIMEOUT }, async () => {
    /** A real event carrying the value under an extra key, so it gets as far as being stored. */
    const inEvent = fc.record({ source: fc.constantFrom('stytch' as const, 'polis' as const), seed: fc.nat(), extra: fc.array(fc.tuple(key, anyJson), { minLength: 1, maxLength: 3 }) });
    /**
     * Svix ids are the sender's choice: short, odd or long. The delivery key holds them whole,
     * in an index, so one past 256 characters is refused as a malformed header (401).
     */
    const svixId = fc.oneof(
      { weight: 4, arbitrary: fc.constant(null) },
      { weight: 2, arbitrary: headerText.map((s) => s.trim()).filter((s) => s !== '') },
      { weight: 1, arbitrary: fc.record({ length: fc.integer({ min: 200, max: 6_000 }), seed: fc.integer() }).map(({ length, seed }) => `msg_${noise(length, seed)}`) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ source: fc.constantFrom('stytch' as const, 'polis' as const), tree: anyJson }),
          inEvent.map(({ source, seed, extra }) => {
            const seeds = source === 'stytch' ? stytchSeed : polisAll;
            const tree = seedTree(seeds[seed % seeds.length]!.event) as Extract<Tree, { kind: 'object' }>;
            tree.entries.push(...extra);
            return { source, tree };
          }),
        ).map((v) => shownAs(v, `${v.source}: ${textOf(v.tree, true)}`)),
        svixId,
        async ({ source, tree }, id) => {
          const body = Buffer.from(textOf(tree));
          const signed = body.length > MIB ? [413] : [200];
          if (source === 'stytch') {
            const svix = id ?? newSvixId();
            const reply = await deliver(source, body, [...JSON_TYPE, ...stytchHeaders(server.stytchSecret, body, svix)]);
            const tooLong = svix.length > 256 && body.length <= MIB;
            await check(reply, { statuses: tooLong ? [401] : signed, definite: [`svix:${svix}`] });
          } else {
            const t = Date.now();
            const reply = await deliver(source, body, [...JSON_TYPE, ...polisHeaders(server.polisSecret, body, t)]);
            await check(reply, { statuses: signed, definite: polisKeys(body, t) });
          }
        },
      ),
      { numRuns: RUNS * 2, ...SEED },
    );
  });

  it('mutated provider events signed correctly: 2xx (applied or kept as rejected), or 400 when cut short of JSON', { timeout: PROPERTY_TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(mutatedSeed, async ({ source, body, truncated }) => {
        const signed = body.length > MIB ? [413] : truncated ? [400] : signedStatuses(body);
        const error = truncated ? /^body is not valid JSON$/ : undefined;
        if (source === 'stytch') {
          const id = newSvixId();
          const reply = await deliver(source, body, [...JSON_TYPE, ...stytchHeaders(server.stytchSecret, body, id)]);
          await check(reply, { statuses: signed, definite: [`svix:${id}`], error });
        } else {
          const t = Date.now();
          const reply = await deliver(source, body, [...JSON_TYPE, ...polisHeaders(server.polisSecret, body, t)]);
          await check(reply, { statuses: signed, definite: polisKeys(body, t), error });
        }
      }),
      { numRuns: RUNS * 2, ...SEED },
    );
  });

  it('the same mutated events signed with another secret, changed after signing, or signed outside the window: 401', { timeout: PROPERTY_TIMEOUT }, async () => {
    const tamper = fc.oneof(
      fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
      fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ op: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    );
    const forgery = fc.oneof(
      fc.constant({ kind: 'other secret' as const }),
      fc.record({ kind: fc.constant('tampered' as const), change: tamper }),
      // Clear of the 300 s window's edge, so a slow request cannot cross it.
      fc.record({ kind: fc.constant('outside the window' as const), seconds: fc.oneof(fc.integer({ min: 310, max: 86_400 * 400 }), fc.integer({ min: -86_400 * 400, max: -310 })) }),
    );
    await fc.assert(
      fc.asyncProperty(mutatedSeed, forgery, async ({ source, body }, forged) => {
        let sentBody = body;
        let signature: HeaderList;
        if (forged.kind === 'other secret') {
          signature = source === 'stytch' ? stytchHeaders(newStytchSecret(), body) : polisHeaders(newPolisSecret(), body);
        } else if (forged.kind === 'outside the window') {
          const at = new Date(Date.now() + forged.seconds * 1000);
          signature = source === 'stytch' ? stytchHeaders(server.stytchSecret, body, newSvixId(), at) : polisHeaders(server.polisSecret, body, at.getTime());
        } else {
          signature = source === 'stytch' ? stytchHeaders(server.stytchSecret, body) : polisHeaders(server.polisSecret, body);
          sentBody = changed(body, forged.change);
          // Svix signs the body decoded as UTF-8: two byte strings that decode alike share a signature.
          fc.pre(source === 'polis' || sentBody.toString() !== body.toString());
        }
        const reply = await deliver(source, sentBody, [...JSON_TYPE, ...signature]);
        await check(reply, { statuses: sentBody.length > MIB ? [413] : [401], definite: [] });
      }),
      { numRuns: RUNS * 2, ...SEED },
    );
  });

  it('Stytch: mutated, missing and repeated Svix headers and content types get the contract status', { timeout: PROPERTY_TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(stytchHeaderMutations, contentType, fc.constantFrom('svix', 'webhook', 'Svix', 'SVIX'), async (mutations, type, prefix) => {
        const id = newSvixId();
        const at = new Date();
        const member = `member-fuzz-${id}`;
        const event = stytchEvent('member', 'CREATE', member, { member_id: member, organization_id: 'org-fuzz', email_address: `${id}@fuzz.example`, status: 'active' });
        const body = Buffer.from(JSON.stringify(event));
        const context: StytchContext = { id, at, body, right: svixSignature(server.stytchSecret, id, at, body.toString()) };
        const correct = { id, timestamp: String(seconds(context)), signature: context.right };
        const headers: HeaderList = [...type.headers];
        let verdict: Verdict = 'accept';
        for (const name of ['id', 'timestamp', 'signature'] as const) {
          const result = mutations[name]?.apply(context) ?? { values: [correct[name]], verdict: 'accept' };
          for (const value of result.values) headers.push([`${prefix}-${name}`, value]);
          // Svix needs all three headers intact: the worst of them decides.
          verdict = worse(verdict, result.verdict);
        }
        const reply = await deliver('stytch', body, headers);
        const key = [`svix:${id}`];
        await check(reply, {
          statuses: statusesFor(type.taken, verdict === 'accept' ? [200] : verdict === 'refuse' ? [401] : [200, 401], body),
          definite: verdict === 'accept' ? key : [],
          possible: key,
        });
      }),
      { numRuns: RUNS * 2, ...SEED },
    );
  });

  it('Polis: mutated, missing, repeated and extra signature headers and content types get the contract status', { timeout: PROPERTY_TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ boxy: polisHeaderMutation, oryPolis: polisHeaderMutation, ory: fc.option(polisHeaderMutation, { freq: 2 }) }),
        contentType,
        fc.constantFrom('as Polis spells it', 'lower case', 'upper case'),
        async (mutations, type, spelling) => {
          const spell = (name: string) => (spelling === 'lower case' ? name.toLowerCase() : spelling === 'upper case' ? name.toUpperCase() : name);
          const tag = newSvixId();
          const body = Buffer.from(JSON.stringify({ event: 'user.created', tenant: 'fuzz', product: 'p', directory_id: 'dir-fuzz', data: { id: `usr-${tag}`, email: `${tag}@fuzz.example`, active: true } }));
          const t = Date.now();
          const headers: HeaderList = [...type.headers];
          const definite: string[] = [];
          const possible: string[] = [];
          let verdict: Verdict = 'refuse';
          const plan: [string, number, PolisMutation | null][] = [
            ['BoxyHQ-Signature', t, mutations.boxy],
            ['Ory-Polis-Signature', t + 1, mutations.oryPolis],
            ['Ory-Signature', t + 2, mutations.ory],
          ];
          for (const [name, signedAt, m] of plan) {
            if (!m) continue;
            const result = m.apply({ secret: server.polisSecret, t: signedAt, body });
            for (const v of result.values) headers.push([spell(name), v]);
            if (result.verdict === 'accept') definite.push(polisKey(name, signedAt, body));
            if (result.verdict === 'either') possible.push(polisKey(name, signedAt, body));
            // Any one good header authenticates the body: the best of them decides.
            verdict = better(verdict, result.verdict);
          }
          const reply = await deliver('polis', body, headers);
          await check(reply, {
            statuses: statusesFor(type.taken, verdict === 'accept' ? [200] : verdict === 'refuse' ? [401] : [200, 401], body),
            definite,
            possible,
          });
        },
      ),
      { numRuns: RUNS * 2, ...SEED },
    );
  });

  it('WorkOS: random JSON and mutated events signed correctly are 2xx; another secret, changed after signing or outside the window, 401', { timeout: PROPERTY_TIMEOUT }, async () => {
    const workosEvent = fc
      .record({ name: fc.constantFrom(...WORKOS_SAMPLE_NAMES), mutations: fc.array(mutation, { maxLength: 3 }) })
      .map(({ name, mutations }) => {
        const tree = treeOf(workosSample(name) as Json);
        for (const m of mutations) mutate(tree, m);
        return shownAs(Buffer.from(textOf(tree)), `workos ${name}: ${textOf(tree, true)}`);
      });
    const body = fc.oneof(workosEvent, anyJson.map((tree) => shownAs(Buffer.from(textOf(tree)), `workos: ${textOf(tree, true)}`)));
    const forgery = fc.oneof(
      { weight: 3, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.constant({ kind: 'other secret' as const }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('tampered' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
      // Clear of the 300 s window's edge, so a slow request cannot cross it.
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('outside the window' as const), seconds: fc.oneof(fc.integer({ min: 310, max: 86_400 * 400 }), fc.integer({ min: -86_400 * 400, max: -310 })) }) },
    );
    await fc.assert(
      fc.asyncProperty(body, forgery, async (sentBody, forged) => {
        if (forged === null) {
          const reply = await deliver('workos', sentBody, [...JSON_TYPE, ...workosHeaders(server.workosSecret, sentBody)]);
          await check(reply, { statuses: sentBody.length > MIB ? [413] : signedStatuses(sentBody), definite: [workosKey(sentBody)] });
          return;
        }
        let signature: HeaderList;
        let bytes: Buffer = sentBody;
        if (forged.kind === 'other secret') signature = workosHeaders(`wk_${newSvixId()}`, sentBody);
        else if (forged.kind === 'outside the window') signature = workosHeaders(server.workosSecret, sentBody, Date.now() + forged.seconds * 1000);
        else {
          signature = workosHeaders(server.workosSecret, sentBody);
          bytes = changed(sentBody, { op: 'flip', at: forged.at, bit: forged.bit });
        }
        const reply = await deliver('workos', bytes, [...JSON_TYPE, ...signature]);
        await check(reply, { statuses: bytes.length > MIB ? [413] : [401], definite: [] });
      }),
      { numRuns: RUNS * 2, ...SEED },
    );
  });

  it('afterwards: no 5xx, exactly the accepted signed deliveries stored, and the server still works', async () => {
    expect(serverErrors).toEqual([]);
    // Reads what the properties above left; run alone it has nothing to check.
    expect(sent).toBeGreaterThan(RUNS * 5);
    expect(ledger.size).toBeGreaterThan(RUNS);

    const keys = await query(server.database, sql`select key, delivery_id::text as id from delivery_keys`);
    const expectedKeys = [...ledger].flatMap(([id, ks]) => [...ks].map((key) => `${id} ${key}`)).sort();
    expect(keys.map((r) => `${String(r.id)} ${String(r.key)}`).sort()).toEqual(expectedKeys);
    const deliveries = await query(server.database, sql`select id::text as id from deliveries`);
    expect(deliveries.map((r) => String(r.id)).sort()).toEqual([...ledger.keys()].sort());
    const feed = await query(server.database, sql`select distinct delivery_id::text as id from changes`);
    for (const r of feed) expect(ledger.has(String(r.id)), `change from unknown delivery ${String(r.id)}`).toBe(true);

    for (const path of ['/healthz', '/readyz']) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status, `${path}: ${await response.text()}`).toBe(200);
    }
    const member = `member-fuzz-after-${newSvixId()}`;
    const stytchBody = Buffer.from(JSON.stringify(stytchEvent('member', 'CREATE', member, { member_id: member, organization_id: 'org-fuzz-after', status: 'active' })));
    const stytch = await deliver('stytch', stytchBody, [...JSON_TYPE, ...stytchHeaders(server.stytchSecret, stytchBody)]);
    expect(stytch.json, stytch.text).toMatchObject({ status: 'applied', applied: 1 });
    const polisBody = Buffer.from(JSON.stringify({ event: 'user.created', tenant: 'fuzz-after', product: 'p', directory_id: 'dir-fuzz-after', data: { id: `usr-${member}`, active: true } }));
    const polis = await deliver('polis', polisBody, [...JSON_TYPE, ...polisHeaders(server.polisSecret, polisBody)]);
    expect(polis.json, polis.text).toMatchObject({ status: 'applied' });
  });
});

// --- Byte changes after signing --------------------------------------------------------------

type Tamper =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'insert'; at: number; byte: number }
  | { op: 'delete'; at: number }
  | { op: 'truncate'; at: number }
  | { op: 'append'; bytes: Uint8Array };

/** A body that differs from `body` by one change (never the same bytes). */
function changed(body: Buffer, t: Tamper): Buffer {
  if (t.op === 'append' || body.length === 0) return Buffer.concat([body, t.op === 'append' ? t.bytes : Buffer.from(' ')]);
  const at = t.at % body.length;
  switch (t.op) {
    case 'flip': {
      const copy = Buffer.from(body);
      copy[at] = copy[at]! ^ (1 << t.bit);
      return copy;
    }
    case 'insert':
      return Buffer.concat([body.subarray(0, at), Buffer.from([t.byte]), body.subarray(at)]);
    case 'delete':
      return Buffer.concat([body.subarray(0, at), body.subarray(at + 1)]);
    case 'truncate':
      return body.subarray(0, at);
  }
}

// --- Header mutations and what the contract says of them -------------------------------------
// 'accept': the signature is still right and in the form the spec gives; 'refuse': it is
// missing, malformed, wrong or stale; 'either': still right, but in a form the spec does not
// settle (leading zeros, spaces, upper case), so accepting and refusing are both correct, and
// only the keys of what was really signed may be stored.

type Verdict = 'accept' | 'either' | 'refuse';
const RANK: Record<Verdict, number> = { accept: 0, either: 1, refuse: 2 };
const worse = (a: Verdict, b: Verdict): Verdict => (RANK[a] >= RANK[b] ? a : b);
const better = (a: Verdict, b: Verdict): Verdict => (RANK[a] <= RANK[b] ? a : b);

type Value = string[];

interface StytchContext {
  id: string;
  at: Date;
  body: Buffer;
  /** The correct `v1,<base64>` signature. */
  right: string;
}

/** One change to one header, applied to its correct value. */
interface HeaderMutation<C> {
  apply(c: C): { values: Value; verdict: Verdict };
  toString(): string;
}

const named = <C>(name: string, apply: HeaderMutation<C>['apply']): HeaderMutation<C> => ({ apply, toString: () => name });
const seconds = (c: StytchContext) => Math.floor(c.at.getTime() / 1000);
const flipCase = (s: string) => s.replace(/[a-zA-Z]/g, (ch) => (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase()));

/** Removed, emptied or sent twice: what every header can suffer. */
const commonly = (value: (c: StytchContext) => string, repeated: Verdict) => [
  fc.constant(named<StytchContext>('removed', () => ({ values: [], verdict: 'refuse' }))),
  fc.constant(named<StytchContext>('emptied', () => ({ values: [''], verdict: 'refuse' }))),
  fc.constant(named<StytchContext>('repeated', (c) => ({ values: [value(c), value(c)], verdict: repeated }))),
];

const svixIdMutation = fc.oneof(
  ...commonly((c) => c.id, 'refuse'),
  fc.constant(named<StytchContext>('another id', () => ({ values: [newSvixId()], verdict: 'refuse' }))),
  fc.constant(named<StytchContext>('case changed', (c) => ({ values: [flipCase(c.id)], verdict: 'refuse' }))),
);

const svixTimestampMutation = fc.oneof(
  ...commonly((c) => String(seconds(c)), 'refuse'),
  fc.constant(named<StytchContext>('leading zero', (c) => ({ values: [`0${seconds(c)}`], verdict: 'either' }))),
  fc
    .constantFrom('yesterday', 's', '.0', 'e0', ' 1', 'NaN', 'Infinity', '0x1', '+')
    .map((junk) => named<StytchContext>(`not a number (${junk})`, (c) => ({ values: [junk === '+' ? `+${seconds(c)}` : `${seconds(c)}${junk}`], verdict: 'refuse' }))),
  fc.constant(named<StytchContext>('negative', (c) => ({ values: [`-${seconds(c)}`], verdict: 'refuse' }))),
  fc.integer({ min: 11, max: 40 }).map((digits) => named<StytchContext>(`huge (${digits} digits)`, () => ({ values: ['9'.repeat(digits)], verdict: 'refuse' }))),
  fc
    .integer({ min: -200, max: 200 })
    .filter((d) => d !== 0)
    .map((d) => named<StytchContext>(`moved ${d} s from what was signed`, (c) => ({ values: [String(seconds(c) + d)], verdict: 'refuse' }))),
);

// Node joins a repeated header's values with ", " and a Svix signature header is a
// space-separated list, so a repeated one reads as a list that holds the right signature.
const svixSignatureMutation = fc.oneof(
  ...commonly((c) => c.right, 'either'),
  fc.constant(named<StytchContext>('version v2', (c) => ({ values: [c.right.replace(/^v1,/, 'v2,')], verdict: 'refuse' }))),
  fc.constant(named<StytchContext>('version V1', (c) => ({ values: [c.right.replace(/^v1,/, 'V1,')], verdict: 'refuse' }))),
  fc.constant(named<StytchContext>('no version', (c) => ({ values: [c.right.slice(3)], verdict: 'refuse' }))),
  fc.constant(named<StytchContext>('case changed', (c) => ({ values: [`v1,${flipCase(c.right.slice(3))}`], verdict: 'refuse' }))),
  fc.constant(named<StytchContext>('another secret', (c) => ({ values: [svixSignature(newStytchSecret(), c.id, c.at, c.body.toString())], verdict: 'refuse' }))),
  base64Of32.map((wrong) => named<StytchContext>('a wrong one, then the right one', (c) => ({ values: [`v1,${wrong} ${c.right}`], verdict: 'accept' }))),
  base64Of32.map((wrong) => named<StytchContext>('the right one, then a wrong one', (c) => ({ values: [`${c.right} v1,${wrong}`], verdict: 'accept' }))),
  base64Of32.map((wrong) => named<StytchContext>('the right one as v2, a wrong v1', (c) => ({ values: [`${c.right.replace(/^v1,/, 'v2,')} v1,${wrong}`], verdict: 'refuse' }))),
  fc.constant(named<StytchContext>('padded', (c) => ({ values: [`  ${c.right}\t`], verdict: 'accept' }))),
);

/** At most one change per header; each left alone half the time. */
const stytchHeaderMutations = fc.record({
  id: fc.option(svixIdMutation, { freq: 2 }),
  timestamp: fc.option(svixTimestampMutation, { freq: 2 }),
  signature: fc.option(svixSignatureMutation, { freq: 2 }),
});

interface PolisContext {
  secret: string;
  t: number;
  body: Buffer;
}
type PolisMutation = HeaderMutation<PolisContext>;
const polisCase = (name: string, apply: PolisMutation['apply']): PolisMutation => named(name, apply);

const polisHeaderMutation: fc.Arbitrary<PolisMutation> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(polisCase('intact', (c) => ({ values: [polisValue(c.secret, c.t, c.body)], verdict: 'accept' }))) },
  fc.constant(polisCase('removed', () => ({ values: [], verdict: 'refuse' }))),
  fc.constant(polisCase('emptied', () => ({ values: [''], verdict: 'refuse' }))),
  fc.constant(polisCase('repeated', (c) => ({ values: [polisValue(c.secret, c.t, c.body), polisValue(c.secret, c.t, c.body)], verdict: 'refuse' }))),
  fc.constant(polisCase('padded outside', (c) => ({ values: [` ${polisValue(c.secret, c.t, c.body)}\t`], verdict: 'accept' }))),
  fc.constant(polisCase('spaces inside', (c) => ({ values: [`t = ${c.t} , s = ${polisS(c.secret, c.t, c.body)}`], verdict: 'either' }))),
  fc.constant(polisCase('upper-case hex', (c) => ({ values: [`t=${c.t},s=${polisS(c.secret, c.t, c.body).toUpperCase()}`], verdict: 'either' }))),
  fc.constant(polisCase('upper-case names', (c) => ({ values: [`T=${c.t},S=${polisS(c.secret, c.t, c.body)}`], verdict: 'either' }))),
  fc.constant(polisCase('s before t', (c) => ({ values: [`s=${polisS(c.secret, c.t, c.body)},t=${c.t}`], verdict: 'either' }))),
  fc.constant(polisCase('leading zero', (c) => ({ values: [`t=0${c.t},s=${polisS(c.secret, c.t, c.body)}`], verdict: 'either' }))),
  fc.constant(polisCase('v1= instead of s=', (c) => ({ values: [`t=${c.t},v1=${polisS(c.secret, c.t, c.body)}`], verdict: 'refuse' }))),
  hex32.map((wrong) => polisCase('two signatures, one right', (c) => ({ values: [`t=${c.t},s=${wrong},s=${polisS(c.secret, c.t, c.body)}`], verdict: 'either' }))),
  fc.constant(polisCase('another secret', (c) => ({ values: [polisValue(newPolisSecret(), c.t, c.body)], verdict: 'refuse' }))),
  hex32.map((wrong) => polisCase('a wrong signature', (c) => ({ values: [`t=${c.t},s=${wrong}`], verdict: 'refuse' }))),
  fc.constant(polisCase('signature cut short', (c) => ({ values: [`t=${c.t},s=${polisS(c.secret, c.t, c.body).slice(1)}`], verdict: 'refuse' }))),
  fc.constant(polisCase('seconds, not milliseconds', (c) => {
    const t = Math.floor(c.t / 1000);
    return { values: [polisValue(c.secret, t, c.body)], verdict: 'refuse' };
  })),
  fc.constant(polisCase('negative time', (c) => ({ values: [`t=-${c.t},s=${polisS(c.secret, c.t, c.body)}`], verdict: 'refuse' }))),
  fc.integer({ min: 17, max: 40 }).map((digits) => polisCase(`huge time (${digits} digits)`, (c) => ({ values: [polisValue(c.secret, Number('9'.repeat(digits)), c.body)], verdict: 'refuse' }))),
  fc.constantFrom('soon', '1e12', 'NaN', '0x1f').map((junk) => polisCase(`time ${junk}`, (c) => ({ values: [`t=${junk},s=${polisS(c.secret, c.t, c.body)}`], verdict: 'refuse' }))),
  fc.oneof(fc.integer({ min: 310_000, max: 10 ** 10 }), fc.integer({ min: -(10 ** 10), max: -310_000 })).map((d) =>
    polisCase(`signed ${d} ms off`, (c) => ({ values: [polisValue(c.secret, c.t + d, c.body)], verdict: 'refuse' })),
  ),
  fc
    .integer({ min: -1000, max: 1000 })
    .filter((d) => d !== 0)
    .map((d) => polisCase(`time moved ${d} ms from what was signed`, (c) => ({ values: [`t=${c.t + d},s=${polisS(c.secret, c.t, c.body)}`], verdict: 'refuse' }))),
);
