// The provider events the project started from (../shared/seeds), kept as the project's own
// fixtures, plus Polis directory events in the shapes Polis sends.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface Fixture {
  title: string;
  event: Record<string, unknown>;
}

const load = (name: string): Fixture[] =>
  JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as Fixture[];

export const stytchSeed = load('stytch-seed-events.json');
export const polisSeed = load('polis-seed-events.json');
export const polisDirectory = load('polis-directory-events.json');
export const polisAll = [...polisSeed, ...polisDirectory];

/** The id suffix every fixture uses; replaced to give each test its own objects. */
export const FIXTURE_SUFFIX = '00000000-0000-0000-0000-000000000000';

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** A copy of an event whose ids (and Polis tenant) are unique to this call. */
export function uniquify<T>(event: T, tag = randomBytes(6).toString('hex')): T {
  const text = JSON.stringify(event).replaceAll(FIXTURE_SUFFIX, `${tag}-0000-0000-0000-000000000000`);
  const copy = JSON.parse(text) as T;
  const polis = copy as { tenant?: string; data?: { clientID?: string } };
  if (typeof polis.tenant === 'string') polis.tenant = `${polis.tenant}-${tag}`;
  if (polis.data && typeof polis.data.clientID === 'string') polis.data.clientID = `${polis.data.clientID}${tag}`;
  return copy;
}

/** Puts a generated secret wherever the provider sends one, and returns it. */
export function withPayloadSecret<T>(event: T, secret: string): T {
  const copy = clone(event) as Record<string, Record<string, unknown> | undefined>;
  if (copy.data && 'clientSecret' in copy.data) copy.data.clientSecret = secret;
  if (copy.oidc_connection) copy.oidc_connection.client_secret = secret;
  return copy as T;
}
