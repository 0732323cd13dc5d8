// First run without configured secrets: generate webhook secrets once, keep them in DATA_DIR
// (never in the repository), and reuse them on every later start. Production never does this.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, type Config } from './config.js';

const FILE = 'local-secrets.json';

const fileSchema = z.object({ polis: z.string().min(16), stytch: z.string().startsWith('whsec_') });
type LocalSecrets = z.infer<typeof fileSchema>;

export interface ResolvedSecrets {
  config: Config;
  /** The secrets that came from DATA_DIR rather than the environment, to show the user. */
  generated: { polis?: string; stytch?: string };
  /** Where they are kept, when any were used. */
  file?: string;
}

async function loadOrCreate(dataDir: string): Promise<{ secrets: LocalSecrets; file: string }> {
  const file = join(dataDir, FILE);
  try {
    const parsed = fileSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
    if (parsed.success) return { secrets: parsed.data, file };
    throw new ConfigError(`${file} is not a valid local secrets file; delete it to generate new secrets`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secrets: LocalSecrets = {
    polis: randomBytes(32).toString('hex'),
    stytch: `whsec_${randomBytes(24).toString('base64')}`,
  };
  await mkdir(dataDir, { recursive: true });
  // 'wx': two processes starting at once must not overwrite each other's secrets.
  try {
    await writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreate(dataDir);
    throw error;
  }
  return { secrets, file };
}

/**
 * Fills in webhook secrets the environment does not set. In production nothing is generated:
 * with no secret at all the service refuses to start, and a provider without one has every
 * delivery refused. No setting makes the service accept an unsigned event.
 */
export async function resolveSecrets(config: Config): Promise<ResolvedSecrets> {
  const missingPolis = config.polisSecrets.length === 0;
  const missingStytch = config.stytchSecrets.length === 0;
  if (!missingPolis && !missingStytch) return { config, generated: {} };

  if (config.env === 'production') {
    if (missingPolis && missingStytch) {
      throw new ConfigError(
        'refusing to start in production without webhook secrets: set POLIS_WEBHOOK_SECRET and/or STYTCH_WEBHOOK_SECRET',
      );
    }
    return { config, generated: {} };
  }

  const { secrets, file } = await loadOrCreate(config.dataDir);
  const generated: ResolvedSecrets['generated'] = {};
  if (missingPolis) generated.polis = secrets.polis;
  if (missingStytch) generated.stytch = secrets.stytch;
  return {
    config: {
      ...config,
      polisSecrets: missingPolis ? [secrets.polis] : config.polisSecrets,
      stytchSecrets: missingStytch ? [secrets.stytch] : config.stytchSecrets,
    },
    generated,
    file,
  };
}
