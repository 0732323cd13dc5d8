// npm run reconcile -- polis [--tenant <tenant> [--product <product>]] [--dry-run]
// Converges the directory with the provider's own state (src/reconcile/run.ts). On Postgres it
// runs beside the service; the embedded database allows one process at a time, so stop the
// service first.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { openForCommand } from './database.js';
import { createDirectoryStore } from '../directory/store.js';
import type { TenantKey } from '../directory/types.js';
import { emptyCounts, KINDS, knownTenants, type KindCounts, type ReconcileProgress, type ReconcileReport } from '../reconcile/run.js';
import { toGlobalId } from '../graphql/ids.js';
import { executeRun, recordRun } from '../reconcile/runs.js';
import { createPullers, PULLER_SETTINGS } from '../sources/index.js';
import { runCommand, UsageError } from './command.js';

const names = Object.keys(PULLER_SETTINGS);
/** "polis, stytch or workos": the providers that can be reconciled. */
const RECONCILABLE = `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;

const USAGE = `Usage:
  npm run reconcile -- polis [--tenant <tenant> [--product <product>]] [--dry-run]
  npm run reconcile -- stytch [--tenant <organization id>] [--dry-run]

Reads the provider's own state (its REST API) and converges the directory with it: what the
provider has is applied as of the moment the read started (an event newer than that still
wins), and what it no longer has is ended once the provider confirms it is gone. Only what
actually changed reaches the change feed and the subscriptions. Nothing of a tenant is
applied unless all of it was read.

  --tenant   one tenant (Polis: its tenant; Stytch: the organization id); default: every
             tenant of the provider the directory knows
  --product  Polis, with --tenant: one product. A tenant the directory does not know yet is
             read when named in full (Polis: tenant and product; Stytch: organization id)
  --dry-run  read everything and say what would change, changing nothing`;

interface Args {
  source: string;
  tenant?: string;
  product?: string;
  dryRun: boolean;
}

function parse(argv: string[]): Args | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      product: { type: 'string' },
      'dry-run': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const [source, ...rest] = positionals;
  if (source === undefined) throw new UsageError(`name the provider to reconcile with: ${RECONCILABLE}`);
  if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
  if (!(source in PULLER_SETTINGS)) throw new UsageError(`unknown provider ${source}: ${RECONCILABLE}`);
  if (values.product !== undefined && values.tenant === undefined) throw new UsageError('--product needs --tenant');
  if (values.product !== undefined && source === 'stytch') throw new UsageError('--product is for polis: Stytch organizations have no product');
  return { source, tenant: values.tenant, product: values.product, dryRun: values['dry-run'] ?? false };
}

/** One rewritten line on a terminal; a line per step otherwise (logs, CI). */
function progressPrinter(label: string): (p: ReconcileProgress) => void {
  let last = '';
  return (p) => {
    const text =
      p.phase === 'reading'
        ? `${label}: reading ${p.reading}, ${p.objects} objects so far`
        : `${label}: ${p.phase} ${p.done}/${p.total}`;
    if (process.stderr.isTTY) {
      process.stderr.write(`\r\x1b[2K${text}`);
      return;
    }
    // Off a terminal: one line per step, not per page.
    const step = p.phase === 'reading' ? p.reading.replace(/ \(page \d+\)$/, '') : p.phase;
    if (step !== last) {
      last = step;
      process.stderr.write(`${text}\n`);
    }
  };
}

const COLUMNS: (keyof KindCounts)[] = ['created', 'updated', 'ended', 'unchanged', 'newer'];
const PLURAL = { CONNECTION: 'connections', MEMBER: 'members', GROUP: 'groups', MEMBERSHIP: 'memberships' } as const;

function summaryTable(counts: ReconcileReport['counts']): string {
  const head = ['', ...COLUMNS].map((c, i) => (i === 0 ? c.padEnd(12) : c.padStart(10))).join('');
  const rows = KINDS.map((k) => [PLURAL[k].padEnd(12), ...COLUMNS.map((c) => String(counts[k][c]).padStart(10))].join(''));
  return [head, ...rows].join('\n');
}

function describe(tenant: TenantKey): string {
  return tenant.product ? `tenant ${tenant.externalId}, product ${tenant.product}` : `tenant ${tenant.externalId}`;
}

async function run(args: Exclude<ReturnType<typeof parse>, 'help'>): Promise<number> {
  const config = loadConfig();
  const puller = createPullers(config).get(args.source);
  if (!puller) {
    console.error(`reconcile: ${args.source} is not configured: set ${PULLER_SETTINGS[args.source]}`);
    return 1;
  }
  const database = await openForCommand('reconcile', config, 2);
  try {
    const store = createDirectoryStore(database.db);
    let targets = await knownTenants(database.db, puller.provider, { externalId: args.tenant, product: args.product });
    const named = args.tenant !== undefined && (args.product !== undefined || puller.provider === 'STYTCH');
    if (targets.length === 0 && named) {
      targets = [{ provider: puller.provider, externalId: args.tenant!, product: args.product ?? '' }];
    }
    if (targets.length === 0) {
      console.log(
        args.tenant === undefined
          ? `the directory knows no ${args.source} tenant yet: name one with --tenant and --product`
          : `the directory knows no ${args.source} tenant ${args.tenant}: give --product as well to read it anyway`,
      );
      return 0;
    }
    const totals = emptyCounts();
    for (const [i, tenant] of targets.entries()) {
      const label = `${args.source} ${describe(tenant)} (${i + 1}/${targets.length})`;
      const request = { puller, tenant, dryRun: args.dryRun, trigger: 'cli' };
      const deps = { database, store };
      const { row, report } = await executeRun(deps, await recordRun(deps, request), request, progressPrinter(label));
      if (process.stderr.isTTY) process.stderr.write('\n');
      if (row.status === 'failed') {
        console.error(`reconcile: ${describe(tenant)} failed, nothing of it was changed: ${row.error}`);
        if (i > 0) console.error(`(the ${i} tenant(s) before it were reconciled)`);
        return 1;
      }
      if (!report) {
        console.log(`${args.source} ${describe(tenant)}: skipped, ${row.error}`);
        continue;
      }
      for (const k of KINDS) for (const c of COLUMNS) totals[k][c] += report.counts[k][c];
      const seconds = ((report.finishedAt.getTime() - report.startedAt.getTime()) / 1000).toFixed(1);
      console.log(`${args.source} ${describe(tenant)}: ${args.dryRun ? 'would change (dry run, nothing applied)' : `reconciled in ${seconds} s`} (run ${toGlobalId('ReconcileRun', row.id)})`);
      console.log(summaryTable(report.counts));
      if (report.stillThere > 0) {
        console.log(`${report.stillThere} object(s) missing from the listing were not ended: ${args.source} still has them`);
      }
    }
    if (targets.length > 1) {
      console.log(`all ${targets.length} tenants${args.dryRun ? ' (dry run)' : ''}:`);
      console.log(summaryTable(totals));
    }
    return 0;
  } finally {
    await database.close();
  }
}

runCommand('reconcile', USAGE, parse, run);
