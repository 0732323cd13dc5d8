// npm run replay -- [--status rejected|stale|ignored|unchanged|applied|all] [--source polis|stytch|workos]
//                   [--since <time>] [--delivery <id>] [--dry-run]
// Re-reads stored deliveries with this version's adapters and applies what can now be read (see
// src/replay.ts). On Postgres it can run beside the service; the embedded database allows one
// process at a time, so stop the service first.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { createDirectoryStore } from '../directory/store.js';
import type { DeliveryStatus } from '../directory/types.js';
import { replayDeliveries, type ReplayFilter, type ReplayProgress, type ReplayReport } from '../replay.js';
import { createSources, isSourceName, SOURCE_LIST } from '../sources/index.js';
import { runCommand, UsageError } from './command.js';
import { isUuidAnyCase } from '../lib/uuid.js';
import { openForCommand } from './database.js';

const USAGE = `Usage:
  npm run replay -- [--status <status>] [--source <provider>] [--since <time>] [--delivery <id>] [--dry-run]

Re-reads stored deliveries with this version's adapters and applies what can now be read, in
place and under the ordering guard: nothing is applied twice, an old event never overwrites
newer state.

  --status    which deliveries: rejected (default), stale, ignored, unchanged, applied, or all
  --source    only deliveries from one provider: ${SOURCE_LIST}
  --since     only deliveries received at or after this time (ISO 8601, e.g. 2026-11-30T12:00Z)
  --delivery  one delivery by id, whatever its status
  --dry-run   read them again and say what could now be read, without applying anything`;

const STATUSES = ['rejected', 'stale', 'ignored', 'unchanged', 'applied', 'applying', 'all'] as const;

function parseFilter(argv: string[]): { filter: ReplayFilter; dryRun: boolean } | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      status: { type: 'string' },
      source: { type: 'string' },
      since: { type: 'string' },
      delivery: { type: 'string' },
      'dry-run': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const filter: ReplayFilter = {};
  if (values.status !== undefined) {
    if (!(STATUSES as readonly string[]).includes(values.status)) throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`);
    filter.status = values.status as DeliveryStatus | 'all';
  }
  if (values.source !== undefined) {
    if (!isSourceName(values.source)) throw new UsageError(`--source must be ${SOURCE_LIST}`);
    filter.source = values.source;
  }
  if (values.since !== undefined) {
    const since = new Date(values.since);
    if (Number.isNaN(since.getTime())) throw new UsageError(`--since: ${values.since} is not a time (use ISO 8601)`);
    filter.since = since;
  }
  if (values.delivery !== undefined) {
    if (!isUuidAnyCase(values.delivery)) throw new UsageError(`--delivery: ${values.delivery} is not a delivery id (a UUID)`);
    filter.deliveryId = values.delivery;
  }
  return { filter, dryRun: values['dry-run'] ?? false };
}

/** A bar on a terminal; a line every tenth of the way otherwise (logs, CI). */
function progressPrinter(): (p: ReplayProgress) => void {
  let lastTenth = -1;
  return ({ done, total }) => {
    if (process.stderr.isTTY) {
      const width = 30;
      const filled = total === 0 ? width : Math.round((done / total) * width);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${done === total ? '\n' : ''}`);
      return;
    }
    const tenth = total === 0 ? 10 : Math.floor((done / total) * 10);
    if (tenth > lastTenth) {
      lastTenth = tenth;
      process.stderr.write(`replayed ${done} of ${total}\n`);
    }
  };
}

function summary(report: ReplayReport, dryRun: boolean): string {
  const lines = [
    dryRun
      ? `${report.matched} deliveries read again (dry run: nothing applied)`
      : `${report.replayed} of ${report.matched} deliveries replayed; ${report.applied} changes reached the directory`,
  ];
  for (const [step, n] of Object.entries(report.transitions).sort()) lines.push(`  ${step}: ${n}`);
  if (report.stillRejected > 0) lines.push(`${report.stillRejected} events still cannot be read (see each delivery's reason)`);
  for (const [source, n] of Object.entries(report.skipped)) lines.push(`${n} deliveries from ${source} skipped: no adapter for it in this version`);
  return lines.join('\n');
}

async function run(parsed: Exclude<ReturnType<typeof parseFilter>, 'help'>): Promise<number> {
  const config = loadConfig();
  const database = await openForCommand('replay', config, 2);
  try {
    const report = await replayDeliveries(database.db, createDirectoryStore(database.db), createSources(config), parsed.filter, {
      dryRun: parsed.dryRun,
      onProgress: progressPrinter(),
    });
    if (report.matched === 0) console.log('no stored delivery matches');
    else console.log(summary(report, parsed.dryRun));
    return 0;
  } finally {
    await database.close();
  }
}

runCommand('replay', USAGE, parseFilter, run);
