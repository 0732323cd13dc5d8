// The signature Polis and WorkOS share: hex HMAC-SHA256 of "<t>.<body>", keyed by the secret's
// UTF-8 bytes, where t is the signing time in milliseconds as the header carries it. Only the
// header's spelling differs (`t=…,s=…` for Polis, `t=…, v1=…` for WorkOS): one verifier.
import { createHmac, timingSafeEqual } from 'node:crypto';

export function timestampedHmac(secret: string, timestampMs: number, body: Buffer | string): string {
  const hmac = createHmac('sha256', Buffer.from(secret, 'utf8'));
  hmac.update(`${timestampMs}.`);
  hmac.update(body);
  return hmac.digest('hex');
}

export interface TimestampedSignature {
  timestampMs: number;
  signature: Buffer;
}

/**
 * Reads `t=<ms>,<tag>=<64 hex digits>` with any spacing around its parts, and nothing else:
 * another part, a shorter signature or a timestamp past 16 digits is not a signature.
 */
export function timestampedSignatureReader(tag: string): (value: string) => TimestampedSignature | undefined {
  const header = new RegExp(`^\\s*t\\s*=\\s*(\\d{1,16})\\s*,\\s*${tag}\\s*=\\s*([0-9a-fA-F]{64})\\s*$`);
  return (value) => {
    const m = header.exec(value);
    return m ? { timestampMs: Number(m[1]), signature: Buffer.from(m[2]!, 'hex') } : undefined;
  };
}

/**
 * The indexes of the secrets that made this signature over `body`. Every secret is checked
 * in constant time, so timing does not tell which matched, or whether any did.
 */
export function secretsThatSigned(parsed: TimestampedSignature, secrets: readonly string[], body: Buffer): number[] {
  const matched: number[] = [];
  secrets.forEach((secret, i) => {
    const expected = Buffer.from(timestampedHmac(secret, parsed.timestampMs, body), 'hex');
    if (timingSafeEqual(expected, parsed.signature)) matched.push(i);
  });
  return matched;
}
