// npm run apikey -- create|list|revoke: manages GraphQL API keys directly in the service's
// database (the one DATABASE_URL names, or the embedded one in DATA_DIR).
import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  ApiKeyError,
  apiKeyNameSchema,
  createApiKey,
  listApiKeys,
  revokeApiKey,
  tenantIdFromRef,
  type ApiKeyListing,
} from '../auth/api-keys.js';
import { ConfigError, loadConfig } from '../config.js';
import type { DatabaseHandle } from '../db/open.js';
import { readLocalAdminKey } from '../local-secrets.js';
import { PgliteLockedError } from '../db/pglite-lock.js';
import { DatabaseOpenError, openForCommand } from './database.js';

const SYNOPSIS = `Usage:
  npm run apikey -- create --name <label> [--tenant <tenant id>]
  npm run apikey -- list
  npm run apikey -- revoke <key id or prefix>`;

const USAGE = `${SYNOPSIS}

create   issues a key and prints it once. Without --tenant it is an admin key (every tenant);
         --tenant takes a tenants.id (uuid) or a Tenant's GraphQL id, and the key then sees
         only that tenant.
list     every key, newest first, with its scope and when it was last used.
revoke   stops a key from working, at once. Give its id or its prefix as \`list\` shows it.

Uses DATABASE_URL, or the embedded database in DATA_DIR, which the service must not have
open: stop \`npm start\` first.`;

const EXIT = { ok: 0, error: 1, usage: 2 } as const;

class UsageError extends Error {}

const createArgs = z.object({
  name: z.string({ error: '--name <label> is required' }).pipe(apiKeyNameSchema),
  tenant: z
    .string()
    .optional()
    .transform((ref, ctx) => {
      if (ref === undefined) return null;
      const id = tenantIdFromRef(ref);
      if (id === undefined) {
        ctx.addIssue({ code: 'custom', message: `--tenant ${ref} is neither a tenant id (uuid) nor a Tenant's GraphQL id` });
        return z.NEVER;
      }
      return id;
    }),
});

type Command =
  | { kind: 'help' }
  | { kind: 'create'; name: string; tenantId: string | null }
  | { kind: 'list' }
  | { kind: 'revoke'; ref: string };

function parseOptions(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        name: { type: 'string' },
        tenant: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    // Unknown option, missing value: node's message says which.
    throw new UsageError((error as Error).message);
  }
}

function parseCommand(argv: string[]): Command {
  const { values, positionals } = parseOptions(argv);
  if (values.help) return { kind: 'help' };
  const [command, ...rest] = positionals;
  const noOptions = () => {
    if (values.name !== undefined || values.tenant !== undefined) {
      throw new UsageError(`${command} takes no --name or --tenant`);
    }
  };
  switch (command) {
    case 'create': {
      if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
      const args = createArgs.safeParse(values);
      if (!args.success) throw new UsageError(args.error.issues.map((i) => i.message).join('; '));
      return { kind: 'create', name: args.data.name, tenantId: args.data.tenant };
    }
    case 'list':
      noOptions();
      if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
      return { kind: 'list' };
    case 'revoke':
      noOptions();
      if (rest.length !== 1 || !rest[0]?.trim()) throw new UsageError('revoke takes exactly one key id or prefix');
      return { kind: 'revoke', ref: rest[0] };
    case undefined:
      throw new UsageError('no command given');
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

const time = (d: Date | null) => (d ? `${d.toISOString().slice(0, 19).replace('T', ' ')}Z` : '-');

function scope(key: ApiKeyListing): string {
  if (key.tenantId === null) return 'admin (every tenant)';
  const label = key.tenantName ?? key.tenantExternalId;
  return label ? `tenant ${label} (${key.tenantId})` : `tenant ${key.tenantId}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** Keys the service accepts that are not rows of the database: ADMIN_API_KEY, the local key. */
interface OtherKeys {
  fromEnvironment: boolean;
  local: { key: string; file: string; applies: boolean } | undefined;
}

function otherKeyLines(other: OtherKeys): string[] {
  const lines: string[] = [];
  if (other.fromEnvironment) lines.push('ADMIN_API_KEY from the environment: an admin key (every tenant), not stored in the database.');
  if (other.local?.applies) {
    lines.push(`Local admin key of the embedded database (kept in ${other.local.file}; admin, every tenant):`, `  ${other.local.key}`);
  } else if (other.local) {
    lines.push(`(${other.local.file} holds an admin key for the embedded database only: it does not open this one.)`);
  }
  return lines;
}

async function execute(command: Exclude<Command, { kind: 'help' }>, database: DatabaseHandle, other: OtherKeys): Promise<void> {
  const { db } = database;
  if (command.kind === 'create') {
    const created = await createApiKey(db, { name: command.name, tenantId: command.tenantId });
    const what = created.tenantId ? `tenant key for tenant ${created.tenantId}` : 'admin key (every tenant)';
    console.log(
      [
        `Created ${what} "${created.name}"`,
        `  id      ${created.id}`,
        `  prefix  ${created.prefix}`,
        '',
        `  ${created.key}`,
        '',
        'This is the only time the key is shown (only its hash is stored): keep it somewhere safe now.',
        'Send it as the header  Authorization: Bearer <key>',
      ].join('\n'),
    );
  } else if (command.kind === 'list') {
    const keys = await listApiKeys(db);
    const others = otherKeyLines(other);
    if (keys.length === 0) {
      console.log(['No API keys in the database yet. Create one with: npm run apikey -- create --name <label>', ...others].join('\n'));
      return;
    }
    const header = ['ID', 'PREFIX', 'NAME', 'SCOPE', 'CREATED', 'LAST USED', 'STATUS'];
    const rows = keys.map((k) => [
      k.id,
      k.prefix,
      k.name,
      scope(k),
      time(k.createdAt),
      time(k.lastUsedAt),
      k.revokedAt ? `revoked ${time(k.revokedAt)}` : 'active',
    ]);
    console.log(table([header, ...rows]));
    if (others.length > 0) console.log(['', ...others].join('\n'));
  } else {
    const revoked = await revokeApiKey(db, command.ref);
    console.log(
      revoked.alreadyRevoked
        ? `${revoked.prefix} "${revoked.name}" (${revoked.id}) was already revoked at ${time(revoked.revokedAt)}`
        : `Revoked ${revoked.prefix} "${revoked.name}" (${revoked.id}); it stops working at once`,
    );
  }
}

async function run(argv: string[]): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`apikey: ${error.message}\n\n${SYNOPSIS}\n  npm run apikey -- --help`);
    return EXIT.usage;
  }
  if (command.kind === 'help') {
    console.log(USAGE);
    return EXIT.ok;
  }

  const config = loadConfig();
  const database = await openForCommand('apikey', config, 1);
  try {
    const local = await readLocalAdminKey(config.dataDir);
    // The service uses the local key only on the embedded database, outside production, without ADMIN_API_KEY.
    const applies = config.databaseUrl === undefined && config.env !== 'production' && config.adminApiKey === undefined;
    await execute(command, database, {
      fromEnvironment: config.adminApiKey !== undefined,
      local: local ? { ...local, applies } : undefined,
    });
    return EXIT.ok;
  } finally {
    await database.close();
  }
}

/** One line for the person at the terminal; the stack only for what is a bug. */
function describe(error: unknown): string {
  if (error instanceof ApiKeyError || error instanceof ConfigError || error instanceof PgliteLockedError || error instanceof DatabaseOpenError) {
    return error.message;
  }
  if (error instanceof Error) {
    const message = error.message.split('\n')[0] ?? '';
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
  }
  return String(error);
}

run(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    console.error(`apikey: ${describe(error)}`);
    process.exit(EXIT.error);
  });
