// Small filesystem helpers shared by the modules that keep state in DATA_DIR.
import { readFile } from 'node:fs/promises';

export const errorCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | null)?.code;

/** The file's text, or undefined when it does not exist (any other failure throws). */
export async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}
