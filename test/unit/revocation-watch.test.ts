// What the revocation watch tells its listeners about the notice channel: the API-key cache
// (key-cache.ts) is trusted only while this says notices are arriving.
import { describe, expect, it } from 'vitest';
import { watchRevocations } from '../../src/auth/revocations.js';
import type { DatabaseHandle } from '../../src/db/open.js';

describe('revocation watch', () => {
  it('says when notices start, stop when the listener drops, and start again when it is back', async () => {
    let lost: (() => void) | undefined;
    let back: (() => void) | undefined;
    let notice: ((payload: string) => void) | undefined;
    const listen: DatabaseHandle['listen'] = async (_channel, onPayload, onListen, onLost) => {
      notice = onPayload;
      back = onListen;
      lost = onLost;
      onListen?.();
      return async () => {};
    };
    const states: boolean[] = [];
    const revoked: string[][] = [];
    const watch = await watchRevocations(
      { db: undefined as unknown as DatabaseHandle['db'], listen },
      { activeKeyIds: () => [], onRevoked: (ids) => revoked.push([...ids]), onListening: (up) => states.push(up) },
    );
    expect(states).toEqual([true]);
    notice?.('key-1');
    expect(revoked).toEqual([['key-1']]);
    lost?.();
    back?.();
    expect(states).toEqual([true, false, true]);
    await watch.stop();
    expect(states).toEqual([true, false, true, false]);
  });
});
