// Ory Polis (formerly BoxyHQ Jackson) signatures: `t=<unix ms>,s=<hex HMAC-SHA256>` over
// "<t>.<body>" with the secret's UTF-8 bytes as the key.
import { timingSafeEqual } from 'node:crypto';
import { timestampedHmac } from '../timestamped-hmac.js';

/** Polis sends the first two; its docs name the third. Any one valid signature suffices. */
export const POLIS_SIGNATURE_HEADERS = [
  'ory-polis-signature',
  'boxyhq-signature',
  'ory-signature',
] as const;

export const polisSignature = timestampedHmac;

/** The value of a signature header, as Polis formats it. */
export function polisSignatureHeader(secret: string, timestampMs: number, body: Buffer | string): string {
  return `t=${timestampMs},s=${polisSignature(secret, timestampMs, body)}`;
}

export interface ParsedSignature {
  timestampMs: number;
  signature: Buffer;
}

const HEADER = /^\s*t\s*=\s*(\d{1,16})\s*,\s*s\s*=\s*([0-9a-fA-F]{64})\s*$/;

export function parsePolisSignatureHeader(value: string): ParsedSignature | undefined {
  const m = HEADER.exec(value);
  if (!m) return undefined;
  return { timestampMs: Number(m[1]), signature: Buffer.from(m[2]!, 'hex') };
}

/** Constant-time check of one parsed header against each secret: the indexes that match. */
export function matchingSecrets(parsed: ParsedSignature, secrets: string[], body: Buffer): number[] {
  const matched: number[] = [];
  secrets.forEach((secret, i) => {
    const expected = Buffer.from(polisSignature(secret, parsed.timestampMs, body), 'hex');
    // Every secret is checked, so timing does not reveal which one matched.
    if (timingSafeEqual(expected, parsed.signature)) matched.push(i);
  });
  return matched;
}
