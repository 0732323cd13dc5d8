// Signs a body the way each provider does, for the trigger tool and the benchmarks.
import { randomUUID } from 'node:crypto';
import { Webhook } from 'svix';
import { polisSignatureHeader } from '../sources/polis/signature.js';
import { workosSignatureHeader } from '../sources/workos/signature.js';

export function polisHeaders(secret: string, body: string, now = new Date()): Record<string, string> {
  // Polis signs each header separately; the second often lands a millisecond later.
  const t = now.getTime();
  return {
    'content-type': 'application/json',
    'boxyhq-signature': polisSignatureHeader(secret, t, body),
    'ory-polis-signature': polisSignatureHeader(secret, t + 1, body),
  };
}

export function stytchHeaders(
  secret: string,
  body: string,
  now = new Date(),
  id = `msg_${randomUUID().replace(/-/g, '')}`,
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'svix-id': id,
    'svix-timestamp': String(Math.floor(now.getTime() / 1000)),
    'svix-signature': new Webhook(secret).sign(id, now, body),
  };
}

export function workosHeaders(secret: string, body: string, now = new Date()): Record<string, string> {
  return {
    'content-type': 'application/json',
    'workos-signature': workosSignatureHeader(secret, now.getTime(), body),
  };
}
