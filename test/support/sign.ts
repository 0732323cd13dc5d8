// Signatures made the way the providers make them, written here independently of the
// service's own code: node's crypto for Polis, the svix library for Stytch.
import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'svix';

export const newPolisSecret = () => randomBytes(32).toString('hex');
export const newStytchSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
/** A value shaped like an OAuth client secret, unique to the test run. */
export const newPayloadSecret = () => `sek_${randomBytes(20).toString('hex')}`;

export function polisHeaderValue(secret: string, t: number, body: string): string {
  const s = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},s=${s}`;
}

export function svixSignature(secret: string, id: string, at: Date, body: string): string {
  return new Webhook(secret).sign(id, at, body);
}

export const newSvixId = () => `msg_${randomBytes(12).toString('hex')}`;
