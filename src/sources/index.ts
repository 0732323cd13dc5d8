import type { Config } from '../config.js';
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
