import type { Config } from '../config.js';
import type { EntityKind, Json, Provider } from '../directory/types.js';
import { pick } from '../lib/pick.js';
import { createPolisSource } from './polis/index.js';
import { createStytchSource } from './stytch/index.js';
import type { SourceAdapter } from './types.js';

/** Every provider the service accepts webhooks from. Adding one means adding it here. */
export function createSources(
  config: Pick<Config, 'polisSecrets' | 'stytchSecrets' | 'toleranceSeconds'> & Partial<Pick<Config, 'polisScopedSecrets'>>,
): SourceAdapter[] {
  return [
    createPolisSource({
      secrets: config.polisSecrets,
      scopedSecrets: config.polisScopedSecrets ?? [],
      toleranceSeconds: config.toleranceSeconds,
    }),
    createStytchSource({ secrets: config.stytchSecrets, toleranceSeconds: config.toleranceSeconds }),
  ];
}

/**
 * What of a stored object a tenant key is shown, by the adapter of the provider that sent it.
 * A provider without an adapter here (its rows outlived it) shows nothing.
 */
export function publicRawOf(sources: readonly SourceAdapter[]): (provider: Provider, entity: EntityKind, raw: Json) => Json {
  const shapes = new Map(sources.map((s) => [s.provider, s.publicRaw]));
  return (provider, entity, raw) => {
    const shape = shapes.get(provider)?.[entity];
    return shape && raw !== null ? pick(raw, shape) : null;
  };
}
