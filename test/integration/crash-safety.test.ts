// Crash safety: the service is SIGKILLed at random moments while several senders deliver a
// realistic mix of signed Stytch events, and restarted on the same database, many times. The
// senders behave like Svix: a delivery that met a connection error or a 503 is sent again,
// with the same svix-id, until it gets a 2xx. After every crash, with the service stopped, the
// database must hold every delivery that was acknowledged, exactly once, with nothing
// half-applied; at the end, each object must be what the events sent imply.
//
// A failure prints its seed; TEST_CRASH_SEED=<seed> replays the same events, generated in the
// same order, and the same kill delays (how the requests interleave is up to the scheduler).
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/open.js';
import { pgliteLockFile } from '../../src/db/pglite-lock.js';
import { backend, createPostgresDatabase, onPostgres } from '../support/backend.js';
import { query } from '../support/db.js';
import { stytchEvent } from '../support/directory.js';
import { acknowledgementViolations, findViolations, type Acknowledgement } from '../support/invariants.js';
import { seededDataDir, spawnService, type ServiceProcess } from '../support/process.js';
import { post, stytchRequest, type Reply } from '../support/server.js';
import { newPolisSecret, newStytchSecret, newSvixId } from '../support/sign.js';
import { budget } from '../support/time.js';

const CYCLES = 12;
const SENDERS = 6;
/** How long the service runs under load before it is killed, in ms: long enough to get busy. */
const RUN_MIN = 200;
const RUN_MAX = 2000;

const seed = Number(process.env.TEST_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: small, seedable, good enough to choose events and moments. */
function rng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- What the senders send, and what it implies ------------------------------------------

type Kind = 'TENANT' | 'CONNECTION' | 'MEMBER' | 'GROUP' | 'MEMBERSHIP';

/** The typed columns an event's data sets, as the service should store them. */
type Columns = Record<string, string | null>;

interface SentEvent {
  n: number;
  /** The event's timestamp in epoch nanoseconds: its ordering key. */
  nanos: bigint;
  op: 'upsert' | 'delete';
  /** Undefined for a bare delete. */
  columns?: Columns;
}

interface Delivery {
  svixId: string;
  entity: string;
  event: SentEvent;
  payload: Record<string, unknown>;
  attempts: number;
  /** Attempts cut off by a crash (connection reset or refused) before the first 2xx. */
  interrupted: number;
  reply?: Reply;
}

const ORGS = 2;
const MEMBERS = 8;
const GROUPS = 3;

/**
 * Chooses the next event. Each object's events have increasing timestamps, in the order they
 * are generated; the senders' concurrency and retries deliver them out of that order, and
 * memberships often name members and groups whose own events have not arrived.
 */
class Traffic {
  private n = 0;
  private readonly base = Date.now() - 3_600_000;
  readonly sent = new Map<string, SentEvent[]>();
  readonly deliveries: Delivery[] = [];
  readonly tag: string;
  constructor(private readonly random: () => number) {
    this.tag = Math.floor(random() * 2 ** 32).toString(16);
  }

  org = (o: number) => `organization-crash-${this.tag}-${o}`;
  saml = (o: number) => `saml-connection-crash-${this.tag}-${o}`;
  scim = (o: number) => `scim-connection-crash-${this.tag}-${o}`;
  member = (o: number, m: number) => `member-crash-${this.tag}-${o}-${m}`;
  group = (o: number, g: number) => `scim-group-crash-${this.tag}-${o}-${g}`;
  membership = (o: number, m: number, g: number) => `scim-member-group-crash-${this.tag}-${o}-${m}-${g}`;

  private pick = (k: number) => Math.floor(this.random() * k);
  private last = (entity: string) => this.sent.get(entity)?.at(-1);

  next(): Delivery {
    const n = ++this.n;
    const at = new Date(this.base + n);
    const o = this.pick(ORGS);
    const r = this.random();
    let entity: string;
    let event: SentEvent;
    let payload: Record<string, unknown>;
    const record = (kind: Kind, externalId: string, op: SentEvent['op'], columns?: Columns) => {
      entity = `${kind} ${externalId}`;
      event = { n, nanos: BigInt(at.getTime()) * 1_000_000n, op, ...(columns ? { columns } : {}) };
    };

    if (r < 0.4) {
      const id = this.member(o, this.pick(MEMBERS));
      const last = this.last(`MEMBER ${id}`);
      const x = this.random();
      if (last && x < 0.06) {
        payload = stytchEvent('member', 'DELETE', id, undefined, at);
        record('MEMBER', id, 'delete');
      } else {
        // Stytch also reports a deletion as an update to status "deleted", carrying the data.
        const status = last && x < 0.1 ? 'deleted' : (['active', 'active', 'invited', 'pending'] as const)[this.pick(4)]!;
        const body = {
          member_id: id,
          organization_id: this.org(o),
          email_address: `${id}.${n}@crash.example`,
          name: `Member #${n}`,
          status,
          roles: [{ role_id: 'stytch_member' }],
        };
        payload = stytchEvent('member', last ? 'UPDATE' : 'CREATE', id, body, at);
        record('MEMBER', id, status === 'deleted' ? 'delete' : 'upsert', {
          name: body.name,
          email: body.email_address,
          // Deleted through an update, a member keeps that last data, marked inactive.
          status: status === 'deleted' ? 'INACTIVE' : status.toUpperCase(),
          tenant: this.org(o),
        });
      }
    } else if (r < 0.7) {
      const m = this.pick(MEMBERS);
      const g = this.pick(GROUPS);
      const id = this.membership(o, m, g);
      // Stytch creates and deletes memberships; it never updates one.
      if (this.last(`MEMBERSHIP ${id}`)?.op === 'upsert') {
        payload = stytchEvent('scim_member_group', 'DELETE', id, undefined, at);
        record('MEMBERSHIP', id, 'delete');
      } else {
        const body = {
          member_group_id: id,
          group_id: this.group(o, g),
          member_id: this.member(o, m),
          connection_id: this.scim(o),
          organization_id: this.org(o),
        };
        payload = stytchEvent('scim_member_group', 'CREATE', id, body, at);
        record('MEMBERSHIP', id, 'upsert', { group: body.group_id, member: body.member_id, tenant: this.org(o) });
      }
    } else if (r < 0.82) {
      const id = this.group(o, this.pick(GROUPS));
      const last = this.last(`GROUP ${id}`);
      if (last?.op === 'upsert' && this.random() < 0.08) {
        payload = stytchEvent('scim_group', 'DELETE', id, undefined, at);
        record('GROUP', id, 'delete');
      } else {
        const body = { group_id: id, group_name: `Group #${n}`, connection_id: this.scim(o), organization_id: this.org(o) };
        payload = stytchEvent('scim_group', last ? 'UPDATE' : 'CREATE', id, body, at);
        record('GROUP', id, 'upsert', { name: body.group_name, connection: this.scim(o), tenant: this.org(o) });
      }
    } else if (r < 0.9) {
      const id = this.org(o);
      const body = { organization_id: id, organization_name: `Org #${n}`, organization_slug: `org-${o}` };
      payload = stytchEvent('organization', this.last(`TENANT ${id}`) ? 'UPDATE' : 'CREATE', id, body, at);
      record('TENANT', id, 'upsert', { name: body.organization_name });
    } else {
      const id = this.saml(o);
      const status = (['active', 'inactive', 'pending'] as const)[this.pick(3)]!;
      const body = { connection_id: id, organization_id: this.org(o), display_name: `SAML #${n}`, status };
      payload = stytchEvent('saml_connection', this.last(`CONNECTION ${id}`) ? 'UPDATE' : 'CREATE', id, body, at);
      record('CONNECTION', id, 'upsert', { name: body.display_name, status: status.toUpperCase(), tenant: this.org(o) });
    }

    const list = this.sent.get(entity!) ?? [];
    list.push(event!);
    this.sent.set(entity!, list);
    const delivery: Delivery = { svixId: newSvixId(), entity: entity!, event: event!, payload, attempts: 0, interrupted: 0 };
    this.deliveries.push(delivery);
    return delivery;
  }
}

// ---- The service, killed and restarted on one database ------------------------------------

/**
 * The service's process is killed, as the kernel's OOM killer or a `docker kill` would, and
 * reaped before it restarts: a dead process that is not yet reaped keeps its pid, which would
 * look alive to the embedded database's lock. Resolves to the killed pid.
 */
async function crash(service: ServiceProcess): Promise<number> {
  const pid = service.child.pid!;
  await service.stop('SIGKILL');
  return pid;
}

interface Outcome {
  acks: Acknowledgement[];
  /** The object's events that some sender has seen acknowledged. */
  acked: Map<string, SentEvent[]>;
}

function acknowledged(traffic: Traffic): Outcome {
  const acks: Acknowledgement[] = [];
  const acked = new Map<string, SentEvent[]>();
  for (const d of traffic.deliveries) {
    if (!d.reply) continue;
    acks.push({
      key: `svix:${d.svixId}`,
      deliveryId: String(d.reply.body.deliveryId),
      status: String(d.reply.body.status),
      applied: Number(d.reply.body.applied),
    });
    const list = acked.get(d.entity) ?? [];
    list.push(d.event);
    acked.set(d.entity, list);
  }
  return { acks, acked };
}

/** Each stored object with its versions and the typed columns the model checks. */
async function storedObjects(database: DatabaseHandle): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  const rows = await query(
    database,
    sql`
      select 'TENANT' as kind, t.external_id, t.live_version, t.data_version, t.deleted_at is not null as deleted,
             json_build_object('name', t.name) as columns
        from tenants t
      union all
      select 'CONNECTION', c.external_id, c.live_version, c.data_version, c.deleted_at is not null,
             json_build_object('name', c.name, 'status', c.status, 'tenant', t.external_id)
        from connections c left join tenants t on t.id = c.tenant_id
      union all
      select 'MEMBER', m.external_id, m.live_version, m.data_version, m.deleted_at is not null,
             json_build_object('name', m.name, 'email', m.email, 'status', m.status, 'tenant', t.external_id)
        from members m left join tenants t on t.id = m.tenant_id
      union all
      select 'GROUP', g.external_id, g.live_version, g.data_version, g.deleted_at is not null,
             json_build_object('name', g.name, 'connection', c.external_id, 'tenant', t.external_id)
        from groups g left join tenants t on t.id = g.tenant_id left join connections c on c.id = g.connection_id
      union all
      select 'MEMBERSHIP', s.external_id, s.live_version, s.data_version, s.deleted_at is not null,
             json_build_object('group', g.external_id, 'member', m.external_id, 'tenant', t.external_id)
        from memberships s left join tenants t on t.id = s.tenant_id
        left join groups g on g.id = s.group_id left join members m on m.id = s.member_id`,
  );
  for (const r of rows) out.set(`${String(r.kind)} ${String(r.external_id)}`, r);
  return out;
}

/** The nanoseconds of a stored ordering key, "<20-digit epoch ns>.<position>" (version.ts). */
const nanosOf = (version: unknown) => (typeof version === 'string' ? BigInt(version.slice(0, 20)) : undefined);

const newest = (events: SentEvent[], withData = false) =>
  events.filter((e) => !withData || e.columns).reduce<SentEvent | undefined>((a, e) => (!a || e.nanos > a.nanos ? e : a), undefined);

/**
 * Each stored object against the events sent. Always: what it stores comes whole from one
 * event sent for it, and nothing older than an acknowledged event is shown. With `exact`
 * (every event acknowledged): it is what the newest events say.
 */
function modelViolations(
  traffic: Traffic,
  acked: Map<string, SentEvent[]>,
  stored: Map<string, Record<string, unknown>>,
  exact: boolean,
): string[] {
  const problems: string[] = [];
  for (const [entity, row] of stored) {
    const sent = traffic.sent.get(entity);
    if (!sent) {
      // A placeholder: named by another object's event, never by its own.
      if (row.live_version !== null || row.data_version !== null) problems.push(`${entity}: versions with no event sent for it`);
      continue;
    }
    const live = sent.find((e) => e.nanos === nanosOf(row.live_version));
    const data = sent.find((e) => e.nanos === nanosOf(row.data_version) && e.columns);
    if (row.live_version !== null && !live) problems.push(`${entity}: live version ${String(row.live_version)} was never sent`);
    if (live && (live.op === 'delete') !== (row.deleted === true)) {
      problems.push(`${entity}: deleted=${String(row.deleted)} but its live version is event #${live.n} (${live.op})`);
    }
    if (row.data_version !== null && !data) problems.push(`${entity}: data version ${String(row.data_version)} was never sent with data`);
    if (data) {
      const columns = row.columns as Columns;
      for (const [column, value] of Object.entries(data.columns!)) {
        if (columns[column] !== value) {
          problems.push(`${entity}: ${column} is ${String(columns[column])}, event #${data.n} (its data version) says ${value}`);
        }
      }
    }

    const mustBeAtLeast = (events: SentEvent[] | undefined) => ({
      live: events && newest(events),
      data: events && newest(events, true),
    });
    const floor = mustBeAtLeast(acked.get(entity));
    if (floor.live && (!live || live.nanos < floor.live.nanos)) {
      problems.push(`${entity}: shows live event #${live?.n ?? '-'}, older than acknowledged #${floor.live.n}`);
    }
    if (floor.data && (!data || data.nanos < floor.data.nanos)) {
      problems.push(`${entity}: shows data of event #${data?.n ?? '-'}, older than acknowledged #${floor.data.n}`);
    }
    if (exact) {
      const want = mustBeAtLeast(sent);
      if (live !== want.live || data !== want.data) {
        problems.push(`${entity}: shows events #${live?.n ?? '-'}/#${data?.n ?? '-'}, the newest sent are #${want.live?.n}/#${want.data?.n ?? '-'}`);
      }
    }
  }
  for (const entity of acked.keys()) if (!stored.has(entity)) problems.push(`${entity}: acknowledged, not stored`);
  return problems;
}

// ---- The test ------------------------------------------------------------------------------

describe(`SIGKILL under webhook load, restarted on the same database (${backend})`, () => {
  const stytchSecret = newStytchSecret();
  let dataDir: string;
  let databaseUrl: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    dataDir = await seededDataDir('dsync-crash-');
    if (onPostgres) {
      const created = await createPostgresDatabase();
      databaseUrl = created.url;
      drop = created.drop;
    }
  });
  afterAll(async () => {
    if (service) await crash(service).catch(() => {});
    await drop?.();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const env = () => ({
    DATA_DIR: dataDir,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    STYTCH_WEBHOOK_SECRET: stytchSecret,
    POLIS_WEBHOOK_SECRET: newPolisSecret(),
    ADMIN_API_KEY: `dsk_${'c'.repeat(43)}`,
    LOG_LEVEL: 'warn',
  });
  // PGlite admits one process at a time: the test reads it only while the service is down.
  const openForChecks = () =>
    openDatabase(databaseUrl ? { databaseUrl, poolSize: 2 } : { pgliteDir: join(dataDir, 'pglite') });

  it(`keeps every acknowledged delivery exactly once, whole, through ${CYCLES} crashes`, async () => {
    onTestFailed(() => console.error(`crash-safety (${backend}) failed with seed ${seed}: rerun with TEST_CRASH_SEED=${seed}`));
    // Separate streams: the senders draw from theirs in whatever order they run, and that
    // must not shift the events generated or the moments of the kills.
    const traffic = new Traffic(rng(seed));
    const killAfter = rng(seed ^ 0x5eed);
    const pickAgain = rng(seed ^ 0xa9a1);

    // Where the service answers now; undefined while it is down.
    let current: string | undefined;
    const wake: (() => void)[] = [];
    const up = async () => {
      while (current === undefined) await new Promise<void>((r) => wake.push(r));
      return current;
    };
    let generating = true;
    let failure: Error | undefined;

    // Like Svix: sent again, same svix-id, after a connection error or a 503, until a 2xx.
    const acknowledge = async (d: Delivery): Promise<{ reply: Reply; interrupted: number }> => {
      for (let interrupted = 0; ; ) {
        const url = await up();
        d.attempts++;
        if (d.attempts > 200) throw new Error(`delivery ${d.svixId} still not acknowledged after 200 attempts`);
        const signed = stytchRequest(stytchSecret, d.payload, { id: d.svixId });
        let reply: Reply;
        try {
          reply = await post(`${url}/webhooks/stytch`, signed.body, signed.headers);
        } catch {
          // Cut off by a crash: whether it committed is unknown, so it is sent again.
          interrupted++;
          if (current === url) await sleep(20);
          continue;
        }
        if (reply.status === 200) return { reply, interrupted };
        if (reply.status === 503) {
          await sleep(100);
          continue;
        }
        throw new Error(`delivery ${d.svixId} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
      }
    };
    let redelivered = 0;
    const senders = Array.from({ length: SENDERS }, async () => {
      try {
        while (generating && !failure) {
          const done = traffic.deliveries.filter((d) => d.reply);
          if (done.length > 0 && pickAgain() < 0.05) {
            // Svix delivers at least once, and a delivery can be replayed from its dashboard:
            // one already acknowledged must be recognised, whatever crashed since.
            const d = done[Math.floor(pickAgain() * done.length)]!;
            const { reply } = await acknowledge(d);
            redelivered++;
            if (reply.body.status !== 'duplicate' || reply.body.deliveryId !== d.reply!.body.deliveryId) {
              throw new Error(`${d.svixId} sent again answered ${JSON.stringify(reply.body)}, first ${JSON.stringify(d.reply!.body)}`);
            }
          } else {
            const d = traffic.next();
            ({ reply: d.reply, interrupted: d.interrupted } = await acknowledge(d));
          }
        }
      } catch (error) {
        failure ??= error as Error;
      }
    });

    const start = async () => {
      service = await spawnService(env());
      current = service.url;
      for (const w of wake.splice(0)) w();
    };
    const checkpoint = async (label: string, exact: boolean) => {
      const database = await openForChecks();
      try {
        const { acks, acked } = acknowledged(traffic);
        const problems = [
          ...(await findViolations(database)),
          ...(await acknowledgementViolations(database, acks)),
          ...modelViolations(traffic, acked, await storedObjects(database), exact),
        ];
        expect(problems, `${label}: ${acks.length} acknowledged of ${traffic.deliveries.length} sent`).toEqual([]);
      } finally {
        await database.close();
      }
    };

    const ackedBefore: number[] = [];
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      await start();
      await sleep(RUN_MIN + killAfter() * (RUN_MAX - RUN_MIN));
      if (failure) throw failure;
      const killed = service!;
      current = undefined;
      const pid = await crash(killed);
      service = undefined;
      ackedBefore.push(traffic.deliveries.filter((d) => d.reply).length);
      if (cycle % 2 === 0) {
        await checkpoint(`after crash ${cycle}`, false);
      } else if (!onPostgres) {
        // Every other crash, the service restarts straight onto what the dead one left: its
        // lock, and a database with transactions cut short that it must recover by itself.
        const lock = JSON.parse(await readFile(pgliteLockFile(join(dataDir, 'pglite')), 'utf8')) as { pid: number };
        expect(lock.pid).toBe(pid);
      }
    }

    // Svix keeps retrying: every delivery ends with a 2xx.
    await start();
    generating = false;
    await Promise.all(senders);
    if (failure) throw failure;
    expect(await service!.stop('SIGTERM')).toBe(0);
    service = undefined;
    current = undefined;

    const all = traffic.deliveries;
    expect(all.every((d) => d.reply?.status === 200)).toBe(true);
    await checkpoint('at the end', true);

    const database = await openForChecks();
    try {
      // Exactly once: one stored delivery per svix-id sent, however often it was sent.
      const [counts] = await query(
        database,
        sql`select (select count(*) from deliveries)::int as deliveries, (select count(*) from delivery_keys)::int as keys`,
      );
      expect(counts).toEqual({ deliveries: all.length, keys: all.length });
    } finally {
      await database.close();
    }

    // A retry is answered "duplicate" only when an earlier attempt may have committed: one
    // that a crash cut off. Never for a delivery acknowledged at its first try.
    const duplicates = all.filter((d) => d.reply!.body.status === 'duplicate');
    for (const d of duplicates) expect(d.interrupted, `${d.svixId} answered duplicate`).toBeGreaterThan(0);
    const interrupted = all.filter((d) => d.interrupted > 0);
    // The crashes did land on work in progress, or this proved little.
    expect(interrupted.length).toBeGreaterThan(0);
    console.log(
      `crash-safety (${backend}) seed ${seed}: ${all.length} deliveries (${all.reduce((s, d) => s + d.attempts, 0)} attempts), ` +
        `${CYCLES} crashes with ${ackedBefore.join('/')} acknowledged before each; ${interrupted.length} cut off by a crash, ` +
        `${duplicates.length} of them had committed before it; ${redelivered} acknowledged ones sent again`,
    );
  }, budget(240_000));
});
