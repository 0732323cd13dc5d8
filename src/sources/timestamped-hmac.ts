// The signature Polis and WorkOS share: hex HMAC-SHA256 of "<t>.<body>", keyed by the secret's
// UTF-8 bytes, where t is the signing time in milliseconds as the header carries it.
import { createHmac } from 'node:crypto';

export function timestampedHmac(secret: string, timestampMs: number, body: Buffer | string): string {
  const hmac = createHmac('sha256', Buffer.from(secret, 'utf8'));
  hmac.update(`${timestampMs}.`);
  hmac.update(body);
  return hmac.digest('hex');
}
