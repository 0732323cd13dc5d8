// A webhook's bytes to the Delivery the directory stores, whatever the provider: its adapter
// verifies the signature over the exact bytes, the body is read as JSON, a secret scoped to
// some tenants is held to them, and what cannot be stored as sent is kept with that part
// replaced and its events rejected (a sender drops a refused event for good, so a signed
// delivery is never refused for what it holds). The HTTP route only answers what this says.
import type { Delivery } from '../directory/types.js';
import { redact } from '../lib/redact.js';
import { storableCopy, unstorable } from '../lib/storable-json.js';
import type { InboundRequest, SourceAdapter } from './types.js';

/** A delivery to store, or why the request is refused: 401 unsigned or out of scope, 400 not JSON. */
export type DeliveryReading = { ok: true; delivery: Delivery } | { ok: false; status: 400 | 401; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function readDelivery(source: SourceAdapter, request: InboundRequest): DeliveryReading {
  const verification = source.verify(request);
  if (!verification.ok) return { ok: false, status: 401, reason: verification.reason };
  let payload: unknown;
  try {
    payload = JSON.parse(utf8.decode(request.body));
  } catch {
    return { ok: false, status: 400, reason: 'body is not valid JSON' };
  }
  // A secret scoped to some tenants proves the sender only for those.
  const outside = verification.verified.outsideScope?.(payload);
  if (outside !== undefined) return { ok: false, status: 401, reason: outside };
  // Signed and JSON: from here on the delivery is kept, whatever it holds. What cannot be
  // read is rejected (2xx, stored with its reason, replayable), never refused.
  const problem = unstorable(payload);
  const delivery: Delivery = problem
    ? {
        source: source.name,
        keys: verification.verified.keys,
        signedAt: verification.verified.signedAt,
        body: redact(storableCopy(payload)),
        events: [{ type: '', changes: [], rejected: `body cannot be stored as sent: ${problem} (kept with that part replaced)` }],
      }
    : source.parse(payload, verification.verified);
  return { ok: true, delivery: { ...delivery, bytes: request.body.length, sender: senderOf(source, payload) } };
}

/** Longest sender text kept: a tenant's name is the sender's to choose. */
const MAX_SENDER = 200;

/**
 * Whose delivery this is, for the bound on rejected deliveries: the source and the tenant its
 * body names. A sender that keeps sending what cannot be read fills its own allowance only; a
 * scoped secret's bodies all name its own tenants (else they are refused above).
 */
function senderOf(source: SourceAdapter, payload: unknown): string {
  const tenant = source.tenantOf(payload);
  return `${source.name}:${tenant === undefined ? '' : tenant.slice(0, MAX_SENDER)}`;
}
