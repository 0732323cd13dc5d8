// WorkOS signatures: `WorkOS-Signature: t=<unix ms>, v1=<hex HMAC-SHA256>` over "<t>.<body>"
// with the secret's UTF-8 bytes as the key (the SDK's SignatureProvider does the same;
// ../timestamped-hmac.ts).
import { secretsThatSigned, timestampedHmac, timestampedSignatureReader, type TimestampedSignature } from '../timestamped-hmac.js';

export const WORKOS_SIGNATURE_HEADER = 'workos-signature';

export const workosSignature = timestampedHmac;

/** The header's value as WorkOS formats it (a space after the comma). */
export function workosSignatureHeader(secret: string, timestampMs: number, body: Buffer | string): string {
  return `t=${timestampMs}, v1=${workosSignature(secret, timestampMs, body)}`;
}

export type ParsedWorkosSignature = TimestampedSignature;

// The SDK splits on ", "; any spacing around the parts is taken here, nothing else is.
export const parseWorkosSignatureHeader = timestampedSignatureReader('v1');

/** Whether any secret signed it; every secret is checked, so timing does not tell which. */
export const signedByAny = (parsed: TimestampedSignature, secrets: readonly string[], body: Buffer): boolean =>
  secretsThatSigned(parsed, secrets, body).length > 0;
