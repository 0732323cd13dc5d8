import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { changeAction, decide, UNSEEN as EMPTY, type IncomingChange, type StoredState } from '../../src/directory/decide.js';

/** Applies changes the way the store does, keeping only what the guard decides on. */
function fold(changes: IncomingChange[]): StoredState {
  let s = EMPTY;
  for (const c of changes) {
    const d = decide(s, c);
    s = {
      ...s,
      ...(d.live ? { liveVersion: d.live.version, deleted: d.live.deleted } : {}),
      ...(d.takeData ? { dataVersion: c.version, dataHash: c.dataHash, dataFromSnapshot: c.op === 'snapshot' } : {}),
    };
  }
  return s;
}

const v = (n: number) => `${String(n).padStart(20, '0')}.000000`;
const upsert = (n: number, hash = `h${n}`): IncomingChange => ({ op: 'upsert', version: v(n), dataHash: hash });
const del = (n: number, hash: string | null = null): IncomingChange => ({ op: 'delete', version: v(n), dataHash: hash });
const snapshot = (n: number, hash = `s${n}`): IncomingChange => ({ op: 'snapshot', version: v(n), dataHash: hash });

describe('the ordering guard', () => {
  it('a newer upsert wins; an older one is stale', () => {
    const s = fold([upsert(2)]);
    expect(decide(s, upsert(3))).toMatchObject({ live: { version: v(3), deleted: false }, takeData: true, stale: false });
    expect(decide(s, upsert(1))).toMatchObject({ live: null, takeData: false, stale: true });
  });

  it('a delete leaves a tombstone a late, older update cannot bring back', () => {
    const s = fold([upsert(1), del(5)]);
    expect(s.deleted).toBe(true);
    // Stale for liveness; its data is the last state before the delete, as in order.
    expect(decide(s, upsert(3))).toMatchObject({ live: null, stale: true, takeData: true });
    expect(fold([upsert(1), del(5), upsert(3)])).toMatchObject({ deleted: true, dataVersion: v(3) });
  });

  it('a newer upsert after a delete does bring it back (Polis reuses SSO client ids)', () => {
    expect(fold([upsert(1), del(2), upsert(3)]).deleted).toBe(false);
  });

  it('on an exact tie a delete wins, in either order', () => {
    expect(fold([upsert(4), del(4)]).deleted).toBe(true);
    expect(fold([del(4), upsert(4)]).deleted).toBe(true);
  });

  it('a create arriving after its delete fills in the tombstone without reviving it', () => {
    const s = fold([del(9), upsert(1, 'created')]);
    expect(s).toMatchObject({ deleted: true, dataVersion: v(1), dataHash: 'created' });
  });

  it('a snapshot fills in data but never creates, deletes or overrides the object\'s own data', () => {
    expect(decide(EMPTY, snapshot(1)).live).toBeNull();
    const own = fold([upsert(1, 'own')]);
    expect(decide(own, snapshot(9)).takeData).toBe(false);
    const fromSnapshot = fold([snapshot(1)]);
    expect(decide(fromSnapshot, snapshot(2)).takeData).toBe(true);
    expect(decide(fromSnapshot, upsert(0)).takeData).toBe(true);
  });

  it('ends in the same state for every permutation of the same changes', () => {
    const change = fc.oneof(
      fc.record({ op: fc.constant('upsert' as const), version: fc.integer({ min: 0, max: 5 }).map(v), dataHash: fc.constantFrom('a', 'b', 'c') }),
      fc.record({ op: fc.constant('delete' as const), version: fc.integer({ min: 0, max: 5 }).map(v), dataHash: fc.constantFrom(null, 'd') }),
      fc.record({ op: fc.constant('snapshot' as const), version: fc.integer({ min: 0, max: 5 }).map(v), dataHash: fc.constantFrom('s', 't') }),
    );
    fc.assert(
      fc.property(
        fc.array(change, { maxLength: 12 }).chain((cs) => fc.tuple(fc.constant(cs), fc.shuffledSubarray(cs, { minLength: cs.length }))),
        ([changes, permuted]) => {
          expect(fold(permuted)).toEqual(fold(changes));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('feed actions', () => {
  const live = { hasData: true, deleted: false, status: 'ACTIVE', dataHash: 'a' };
  it('names what a reader sees change', () => {
    expect(changeAction(undefined, live)).toBe('CREATED');
    expect(changeAction({ ...live, hasData: false, dataHash: null }, live)).toBe('CREATED');
    expect(changeAction(live, { ...live, deleted: true })).toBe('DELETED');
    expect(changeAction(undefined, { ...live, hasData: false, deleted: true })).toBe('DELETED');
    expect(changeAction(live, { ...live, status: 'INACTIVE', dataHash: 'b' })).toBe('DEACTIVATED');
    expect(changeAction({ ...live, status: 'INVITED' }, { ...live, dataHash: 'b' })).toBe('ACTIVATED');
    expect(changeAction(live, { ...live, status: 'PENDING', dataHash: 'b' })).toBe('UPDATED');
    expect(changeAction(live, { ...live, dataHash: 'b' })).toBe('UPDATED');
    expect(changeAction({ ...live, deleted: true }, live)).toBe('CREATED');
  });
  it('is silent when nothing visible changed', () => {
    expect(changeAction(live, live)).toBeNull();
    expect(changeAction({ ...live, deleted: true }, { ...live, deleted: true, dataHash: 'b' })).toBeNull();
    expect(changeAction(undefined, { hasData: false, deleted: false, status: null, dataHash: null })).toBeNull();
  });
});
