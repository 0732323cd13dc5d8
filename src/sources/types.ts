// What every provider adapter implements. An adapter turns a raw HTTP delivery into a
// verified, redacted Delivery of directory changes; it knows nothing of the database.
import type { Delivery, EntityKind, Json, Provider } from '../directory/types.js';
import type { Shape } from '../lib/pick.js';

export interface InboundRequest {
  /** Lower-cased header names, as Node gives them. */
  headers: Record<string, string | string[] | undefined>;
  /** The exact bytes received: signatures are checked over these, never re-serialised JSON. */
  body: Buffer;
  now: Date;
}

export interface Verified {
  /** Idempotency keys of this delivery. */
  keys: string[];
  /** The signature's timestamp. */
  signedAt: Date;
  /**
   * Set when only secrets scoped to some tenants signed the delivery: given the parsed body,
   * why it reaches beyond them (the delivery is then refused as unauthorised), or undefined.
   */
  outsideScope?: (payload: unknown) => string | undefined;
}

export type Verification = { ok: true; verified: Verified } | { ok: false; reason: string };


/**
 * Per entity, what of the provider's stored object (`raw`) a tenant key is shown: what a
 * frontend needs, by allow-list. Admin keys see the whole object, secrets removed.
 */
export type PublicRawShapes = Readonly<Record<EntityKind, Shape>>;

export interface SourceAdapter {
  /** Route segment: POST /webhooks/<name>. */
  name: string;
  /** The provider its objects are stored under. */
  provider: Provider;
  publicRaw: PublicRawShapes;
  /** False when no secret is configured: every delivery is then refused. */
  configured: boolean;
  verify(request: InboundRequest): Verification;
  /**
   * `payload` is the verified body parsed as JSON (and storable: see storable-json.ts). Never
   * refuses: an event it cannot read becomes a `rejected` event of the delivery, kept for
   * replay, and the delivery's other events are applied.
   */
  parse(payload: unknown, verified: Verified): Delivery;
  /**
   * The tenant a body names, in whatever form the provider gives it, read leniently (the body
   * may be one the adapter rejects): with the source, it says whose rejected deliveries these
   * are, which are bounded per sender and tenant. Undefined when the body names none.
   */
  tenantOf(payload: unknown): string | undefined;
}

/** Reads a single header value; a repeated header is refused rather than guessed at. */
export function header(
  headers: InboundRequest['headers'],
  name: string,
): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * What of a stored provider object (`raw`) a tenant key is shown: the part a frontend needs,
 * chosen by the provider's adapter (src/sources/<provider>/public-raw.ts).
 */
export interface PublicRaw {
  /** The allow-list (src/lib/pick.ts) for a provider's objects of one kind; undefined: nothing is shown. */
  shape(provider: Provider, entity: EntityKind): Shape | undefined;
  /** `raw` picked by that allow-list. */
  pick(provider: Provider, entity: EntityKind, raw: Json): Json;
}
