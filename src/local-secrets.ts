// First run without configured secrets: generate webhook secrets (and, for the embedded
// database, an admin API key) once, keep them in DATA_DIR (never in the repository), and reuse
// them on every later start. Production never does this.
import { randomBytes } from 'node:crypto';
import { link, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { API_KEY_PATTERN, generateApiKey } from './auth/api-keys.js';
import { ConfigError, type Config } from './config.js';
import { waitForLock } from './db/pglite-lock.js';
import { errorCode, readTextIfExists } from './lib/files.js';

const FILE = 'local-secrets.json';

// Loose: fields a later version adds survive this one rewriting the file.
const fileSchema = z.looseObject({
  polis: z.string().min(16),
  stytch: z.string().startsWith('whsec_'),
  // Added when WorkOS came: a file from before gets one on its next start.
  workos: z.string().min(16).optional(),
  adminApiKey: z.string().regex(API_KEY_PATTERN).optional(),
});
type LocalSecrets = z.infer<typeof fileSchema>;

export interface ResolvedSecrets {
  config: Config;
  /** The secrets that came from DATA_DIR rather than the environment, to show the user. */
  generated: { polis?: string; stytch?: string; workos?: string; adminApiKey?: string };
  /** Where they are kept, when any were used. */
  file?: string;
  /**
   * A local secrets file holding an admin key that does not apply here (the service is on
   * Postgres): named so the banner can say why that key is refused.
   */
  strayLocalKey?: string;
}

/** The embedded database's local admin key, if DATA_DIR has one (never creates the file). */
export async function readLocalAdminKey(dataDir: string): Promise<{ key: string; file: string } | undefined> {
  const file = join(dataDir, FILE);
  const secrets = await read(file).catch(() => undefined);
  return secrets?.adminApiKey ? { key: secrets.adminApiKey, file } : undefined;
}

const serialize = (secrets: LocalSecrets) => `${JSON.stringify(secrets, null, 2)}\n`;

async function read(file: string): Promise<LocalSecrets | undefined> {
  const text = await readTextIfExists(file);
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = fileSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  throw new ConfigError(`${file} is not a valid local secrets file; delete it to generate new secrets`);
}

/** A private file written aside first, so nobody ever reads it half-written. */
async function writeDraft(file: string, secrets: LocalSecrets): Promise<string> {
  const draft = `${file}.${randomBytes(8).toString('hex')}.tmp`;
  await writeFile(draft, serialize(secrets), { mode: 0o600, flag: 'wx' });
  return draft;
}

async function loadOrCreate(dataDir: string, wantAdminKey: boolean): Promise<{ secrets: LocalSecrets; file: string }> {
  const file = join(dataDir, FILE);
  const existing = await read(file);
  if (existing) {
    if (existing.workos && (!wantAdminKey || existing.adminApiKey)) return { secrets: existing, file };
    return { secrets: await addMissing(file, wantAdminKey), file };
  }
  const secrets: LocalSecrets = {
    polis: randomBytes(32).toString('hex'),
    stytch: `whsec_${randomBytes(24).toString('base64')}`,
    workos: newWorkosSecret(),
    ...(wantAdminKey ? { adminApiKey: generateApiKey() } : {}),
  };
  await mkdir(dataDir, { recursive: true });
  // Exclusive creation (link fails like 'wx' if the file exists): two processes starting at
  // once must not overwrite each other's secrets. The loser reads the winner's.
  const draft = await writeDraft(file, secrets);
  try {
    await link(draft, file);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return loadOrCreate(dataDir, wantAdminKey);
    throw error;
  } finally {
    await unlink(draft).catch(() => {});
  }
  return { secrets, file };
}

/** WorkOS shows endpoint secrets as letters and digits; any string works as the HMAC key. */
const newWorkosSecret = () => randomBytes(24).toString('base64url');

/**
 * A file from before admin keys (or WorkOS) existed gets what it lacks added. Under a lock, so
 * a CLI and the service starting together agree on one value, and by rename, so the file is
 * never seen half-written.
 */
async function addMissing(file: string, wantAdminKey: boolean): Promise<LocalSecrets> {
  const release = await waitForLock(`${file}.lock`);
  try {
    const current = await read(file);
    if (!current) throw new ConfigError(`${file} disappeared while adding to it`);
    if (current.workos && (!wantAdminKey || current.adminApiKey)) return current;
    const next = {
      ...current,
      workos: current.workos ?? newWorkosSecret(),
      ...(wantAdminKey && !current.adminApiKey ? { adminApiKey: generateApiKey() } : {}),
    };
    await rename(await writeDraft(file, next), file);
    return next;
  } finally {
    await release();
  }
}

/**
 * Fills in webhook secrets the environment does not set, and, on the embedded database without
 * ADMIN_API_KEY, a local admin API key (config.adminApiKey). In production nothing is generated:
 * with no secret at all the service refuses to start, and a provider without one has every
 * delivery refused. No setting makes the service accept an unsigned event.
 */
export async function resolveSecrets(config: Config): Promise<ResolvedSecrets> {
  const missingPolis = config.polisSecrets.length === 0;
  const missingStytch = config.stytchSecrets.length === 0;
  const missingWorkos = config.workosSecrets.length === 0;
  // The embedded database is one process on one machine: give it an admin key so GraphiQL
  // works at once. Postgres may be shared by instances with different DATA_DIRs, which would
  // each invent their own key: there the operator sets ADMIN_API_KEY or runs `npm run apikey`.
  const wantAdminKey =
    config.env !== 'production' && config.databaseUrl === undefined && config.adminApiKey === undefined;
  const stray = config.databaseUrl !== undefined && config.adminApiKey === undefined ? await readLocalAdminKey(config.dataDir) : undefined;
  const strayLocalKey = stray ? { strayLocalKey: stray.file } : {};
  if (!missingPolis && !missingStytch && !missingWorkos && !wantAdminKey) return { config, generated: {}, ...strayLocalKey };

  if (config.env === 'production') {
    if (missingPolis && missingStytch && missingWorkos) {
      throw new ConfigError(
        'refusing to start in production without webhook secrets: set POLIS_WEBHOOK_SECRET, STYTCH_WEBHOOK_SECRET and/or WORKOS_WEBHOOK_SECRET',
      );
    }
    return { config, generated: {}, ...strayLocalKey };
  }

  const { secrets, file } = await loadOrCreate(config.dataDir, wantAdminKey);
  const generated: ResolvedSecrets['generated'] = {};
  if (missingPolis) generated.polis = secrets.polis;
  if (missingStytch) generated.stytch = secrets.stytch;
  if (missingWorkos && secrets.workos) generated.workos = secrets.workos;
  if (wantAdminKey) generated.adminApiKey = secrets.adminApiKey;
  return {
    config: {
      ...config,
      polisSecrets: missingPolis ? [secrets.polis] : config.polisSecrets,
      stytchSecrets: missingStytch ? [secrets.stytch] : config.stytchSecrets,
      workosSecrets: missingWorkos && secrets.workos ? [secrets.workos] : config.workosSecrets,
      adminApiKey: wantAdminKey ? secrets.adminApiKey : config.adminApiKey,
      adminApiKeyIsLocal: wantAdminKey,
    },
    generated,
    file,
    ...strayLocalKey,
  };
}
