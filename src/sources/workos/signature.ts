// WorkOS signatures: `WorkOS-Signature: t=<unix ms>, v1=<hex HMAC-SHA256>` over "<t>.<body>"
// with the secret's UTF-8 bytes as the key (the SDK's SignatureProvider does the same).
import { timingSafeEqual } from 'node:crypto';
import { timestampedHmac } from '../timestamped-hmac.js';

export const WORKOS_SIGNATURE_HEADER = 'workos-signature';

export const workosSignature = timestampedHmac;

/** The header's value as WorkOS formats it (a space after the comma). */
export function workosSignatureHeader(secret: string, timestampMs: number, body: Buffer | string): string {
  return `t=${timestampMs}, v1=${workosSignature(secret, timestampMs, body)}`;
}

export interface ParsedWorkosSignature {
  timestampMs: number;
  signature: Buffer;
}

// The SDK splits on ", "; any spacing around the parts is taken here, nothing else is.
const HEADER = /^\s*t\s*=\s*(\d{1,16})\s*,\s*v1\s*=\s*([0-9a-fA-F]{64})\s*$/;

export function parseWorkosSignatureHeader(value: string): ParsedWorkosSignature | undefined {
  const m = HEADER.exec(value);
  if (!m) return undefined;
  return { timestampMs: Number(m[1]), signature: Buffer.from(m[2]!, 'hex') };
}

/** Whether any secret signed it; every secret is checked, so timing does not tell which. */
export function signedByAny(parsed: ParsedWorkosSignature, secrets: readonly string[], body: Buffer): boolean {
  let matched = false;
  for (const secret of secrets) {
    const expected = Buffer.from(workosSignature(secret, parsed.timestampMs, body), 'hex');
    if (timingSafeEqual(expected, parsed.signature)) matched = true;
  }
  return matched;
}
