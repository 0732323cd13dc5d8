import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';

/** SHA-256 of a value's canonical JSON (keys sorted), so equal data hashes equal. */
export function hashJson(value: unknown): string {
  return createHash('sha256')
    .update(stringify(value) ?? 'undefined')
    .digest('hex');
}

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}
