// Which subscriptions share a push group: the same operation, variables and scope, whatever
// cursor each resumes from, unless the cursor variable also reaches the payload.
import { parse, type ExecutionArgs } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { operationKey } from '../../src/graphql/subscriptions/execute.js';
import { buildSchema } from '../../src/graphql/schema.js';

const schema = buildSchema();
const admin: Viewer = { kind: 'admin', keyId: null, name: 'admin' };
const keyOf = (query: string, variableValues: Record<string, unknown>, viewer: Viewer = admin) =>
  operationKey({ schema, document: parse(query), variableValues, contextValue: { viewer } } as ExecutionArgs);

describe('operationKey', () => {
  const resuming = 'subscription ($after: String, $first: Int) { memberChanged(after: $after) { cursor member { groups(first: $first) { totalCount } } } }';

  it('is the same whatever cursor a subscription resumes from', () => {
    expect(keyOf(resuming, { after: 'a', first: 5 })).toBe(keyOf(resuming, { after: 'b', first: 5 }));
    expect(keyOf(resuming, { first: 5 })).toBe(keyOf(resuming, { after: 'b', first: 5 }));
  });

  it('differs with what reaches the payload, or the scope', () => {
    expect(keyOf(resuming, { after: 'a', first: 5 })).not.toBe(keyOf(resuming, { after: 'a', first: 6 }));
    const tenant: Viewer = { kind: 'tenant', keyId: 'k', name: 't', tenantId: '00000000-0000-0000-0000-000000000001' };
    expect(keyOf(resuming, { after: 'a', first: 5 })).not.toBe(keyOf(resuming, { after: 'a', first: 5 }, tenant));
  });

  it('keeps the cursor when the same variable is used inside the payload too', () => {
    const both = 'subscription ($after: String) { memberChanged(after: $after) { member { groups(first: 2, after: $after) { totalCount } } } }';
    expect(keyOf(both, { after: 'a' })).not.toBe(keyOf(both, { after: 'b' }));
  });
});
