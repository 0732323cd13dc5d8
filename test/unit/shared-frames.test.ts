// A pushed payload shared by many subscribers is turned into JSON once, and every socket still
// sends exactly the message graphql-ws would have sent without the sharing.
import { describe, expect, it } from 'vitest';
import { frameReplacer, withSharedPayload } from '../../src/http/shared-frames.js';

/** What graphql-ws's emit.next builds and hands to the socket, with our replacer and send. */
const frame = (id: string, result: Record<string, unknown>) => {
  const { errors, ...rest } = result as { errors?: unknown };
  const message = { id, type: 'next', payload: { ...rest, ...(errors ? { errors } : {}) } };
  return { sent: withSharedPayload(JSON.stringify(message, frameReplacer)), plain: JSON.stringify(message) };
};

describe('shared push frames', () => {
  it('serialise a shared payload once, and each socket sends the same text as without sharing', () => {
    let serialised = 0;
    const data = { memberChanged: { action: 'CREATED', member: { email: 'ada@example.test', name: 'Ada "Countess" \u2028' } } };
    Object.defineProperty(data, 'toJSON', {
      enumerable: false,
      value() {
        serialised++;
        return { memberChanged: data.memberChanged };
      },
    });
    const result = { data };
    const frames = ['1', '2', 'a very-long id'].map((id) => frame(id, result));
    for (const f of frames) expect(f.sent).toBe(f.plain);
    // Three for the plain strings the test made; one for all three sends.
    expect(serialised).toBe(3 + 1);
  });

  it('leave payloads with errors, and every other message, as graphql-ws makes them', () => {
    const withErrors = frame('1', { data: null, errors: [{ message: 'CURSOR_EXPIRED' }] });
    expect(withErrors.sent).toBe(withErrors.plain);
    const message = { id: '2', type: 'error', payload: [{ message: 'nope' }] };
    expect(withSharedPayload(JSON.stringify(message, frameReplacer))).toBe(JSON.stringify(message));
    expect(withSharedPayload(JSON.stringify({ type: 'complete', id: '3' }, frameReplacer))).toBe('{"type":"complete","id":"3"}');
  });

  it('never carries a payload over to a later message when a send was skipped', () => {
    // A closed socket's send is skipped: the next message must not receive that payload.
    JSON.stringify({ id: '1', type: 'next', payload: { data: { x: 1 } } }, frameReplacer);
    const next = frame('2', { data: { y: 2 } });
    expect(next.sent).toBe(next.plain);
    expect(withSharedPayload('{"type":"complete","id":"3"}')).toBe('{"type":"complete","id":"3"}');
  });
});
