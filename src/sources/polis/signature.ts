// Ory Polis (formerly BoxyHQ Jackson) signatures: `t=<unix ms>,s=<hex HMAC-SHA256>` over
// "<t>.<body>" with the secret's UTF-8 bytes as the key (../timestamped-hmac.ts).
import { secretsThatSigned, timestampedHmac, timestampedSignatureReader, type TimestampedSignature } from '../timestamped-hmac.js';

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

export type ParsedSignature = TimestampedSignature;

export const parsePolisSignatureHeader = timestampedSignatureReader('s');

/** Constant-time check of one parsed header against each secret: the indexes that match. */
export const matchingSecrets = secretsThatSigned;
