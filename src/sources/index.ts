import type { Config } from '../config.js';
import type { AttributeMapping } from '../directory/attributes.js';
import type { EntityKind, Provider } from '../directory/types.js';
import { pick } from '../lib/pick.js';
import type { Puller } from '../reconcile/types.js';
import { polisDefaultAttributes } from './polis/attributes.js';
import { createPolisSource } from './polis/index.js';
import { createPolisPuller } from './polis/reconcile.js';
import { createStytchPuller, stytchApiUrl } from './stytch/reconcile.js';
import { stytchDefaultAttributes } from './stytch/attributes.js';
import { createStytchSource } from './stytch/index.js';
import type { PublicRaw, SourceAdapter } from './types.js';
import { workosDefaultAttributes } from './workos/attributes.js';
import { createWorkosSource } from './workos/index.js';
import { createWorkosPuller } from './workos/reconcile.js';

/**
 * Every provider the service accepts webhooks from, by its name in POST /webhooks/<name> and in
 * stored deliveries. Adding one means adding it here and in createSources.
 */
export const SOURCE_NAMES = ['polis', 'stytch', 'workos'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

export const isSourceName = (name: string): name is SourceName => (SOURCE_NAMES as readonly string[]).includes(name);

/** "polis, stytch or workos", for messages. */
export const SOURCE_LIST = `${SOURCE_NAMES.slice(0, -1).join(', ')} or ${SOURCE_NAMES.at(-1)}`;

/** The adapter of each provider the service accepts webhooks from (SOURCE_NAMES, in that order). */
export function createSources(
  config: Pick<Config, 'polisSecrets' | 'stytchSecrets' | 'toleranceSeconds'> & Partial<Pick<Config, 'polisScopedSecrets' | 'workosSecrets'>>,
): SourceAdapter[] {
  return [
    createPolisSource({
      secrets: config.polisSecrets,
      scopedSecrets: config.polisScopedSecrets ?? [],
      toleranceSeconds: config.toleranceSeconds,
    }),
    createStytchSource({ secrets: config.stytchSecrets, toleranceSeconds: config.toleranceSeconds }),
    createWorkosSource({ secrets: config.workosSecrets ?? [], toleranceSeconds: config.toleranceSeconds }),
  ];
}

/** Every provider whose state can be reconciled, by source name; those not configured are left out. */
export function createPullers(config: Pick<Config, 'polisApi' | 'stytchApi' | 'workosApi'>): Map<string, Puller> {
  const pullers = new Map<string, Puller>();
  if (config.polisApi) pullers.set('polis', createPolisPuller({ apiUrl: config.polisApi.url, apiKey: config.polisApi.key }));
  if (config.stytchApi) {
    const { url, projectId, secret } = config.stytchApi;
    pullers.set('stytch', createStytchPuller({ apiUrl: url ?? stytchApiUrl(projectId), projectId, secret }));
  }
  if (config.workosApi) pullers.set('workos', createWorkosPuller({ apiUrl: config.workosApi.url, apiKey: config.workosApi.key }));
  return pullers;
}

/** What each reconcilable source needs configured, for the error when it is not. */
export const PULLER_SETTINGS: Record<string, string> = {
  polis: 'POLIS_API_URL and POLIS_API_KEY (Polis\'s base URL and one of its API_KEYS)',
  stytch: 'STYTCH_PROJECT_ID and STYTCH_SECRET (the B2B project\'s id and secret)',
  workos: 'WORKOS_API_KEY (a secret key, sk_...; WORKOS_API_URL only for another host than api.workos.com)',
};

/**
 * What of a stored object a tenant key is shown, by the adapter of the provider that sent it.
 * A provider without an adapter here (its rows outlived it) shows nothing.
 */
export function publicRawOf(sources: readonly SourceAdapter[]): PublicRaw {
  const shapes = new Map(sources.map((s) => [s.provider, s.publicRaw]));
  const shape = (provider: Provider, entity: EntityKind) => shapes.get(provider)?.[entity];
  return {
    shape,
    pick: (provider, entity, raw) => {
      const allowed = shape(provider, entity);
      return allowed && raw !== null ? pick(raw, allowed) : null;
    },
  };
}

/**
 * Where a member's attributes are read from when its tenant has not set its own mappings: the
 * SCIM enterprise extension as each provider carries it, and WorkOS's predefined attributes.
 */
export function defaultAttributeMappings(provider: Provider): readonly AttributeMapping[] {
  switch (provider) {
    case 'POLIS':
      return polisDefaultAttributes;
    case 'STYTCH':
      return stytchDefaultAttributes;
    case 'WORKOS':
      return workosDefaultAttributes;
  }
}
