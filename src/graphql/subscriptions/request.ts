// What a subscription field's resolver returns: what to follow, for execute.ts to join to a
// push group. It is an async iterable only because graphql-js requires a subscription's
// source to be one; nothing iterates it.
import type { LiveKind, LiveSpec } from '../../live/spec.js';

export class LiveRequest<K extends LiveKind = LiveKind> implements AsyncIterable<never> {
  constructor(readonly spec: LiveSpec<K>) {}

  [Symbol.asyncIterator](): AsyncIterator<never> {
    throw new Error('a LiveRequest is joined to a push group (graphql/subscriptions/execute.ts), not iterated');
  }
}
