// The one list of providers (SOURCE_NAMES) that the replay CLI, the replayDeliveries mutation and
// messages take their names from is the list of adapters the service runs.
import { describe, expect, it } from 'vitest';
import { createSources, SOURCE_LIST, SOURCE_NAMES } from '../../src/sources/index.js';

describe('SOURCE_NAMES', () => {
  it('names every adapter createSources builds, in its order', () => {
    const adapters = createSources({ polisSecrets: [], stytchSecrets: [], toleranceSeconds: 300 });
    expect(adapters.map((a) => a.name)).toEqual([...SOURCE_NAMES]);
    expect(SOURCE_LIST).toBe('polis, stytch or workos');
  });
});
