import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appRoleOf, appRolesOf, type RoleRule } from '../../src/directory/app-roles.js';

const groups = [
  { externalId: 'g1', name: 'Engineering' },
  { externalId: 'g2', name: null },
];

describe('app roles from groups', () => {
  it('matches a group by externalId or exact name, orders by priority then rule order, each role once', () => {
    const rules: RoleRule[] = [
      { group: 'g2', role: 'editor', priority: 5 },
      { group: 'Engineering', role: 'admin', priority: 1 },
      { group: 'engineering', role: 'wrong-case', priority: 0 },
      { group: 'g1', role: 'editor', priority: 5 },
      { group: 'g1', role: 'auditor', priority: 5 },
    ];
    expect(appRolesOf(rules, groups)).toEqual(['admin', 'editor', 'auditor']);
    expect(appRoleOf(rules, 'viewer', groups)).toBe('admin');
    expect(appRoleOf(rules, 'viewer', [])).toBe('viewer');
    expect(appRoleOf([], null, groups)).toBeNull();
  });

  it('appRole is the first of appRoles, or the default', () => {
    const rule = fc.record({ group: fc.constantFrom('g1', 'g2', 'g3', 'Engineering'), role: fc.constantFrom('a', 'b', 'c'), priority: fc.integer({ min: -3, max: 3 }) });
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 8 }), fc.option(fc.constantFrom('d', 'e')), fc.subarray(groups), (rules, fallback, live) => {
        const roles = appRolesOf(rules, live);
        expect(appRoleOf(rules, fallback, live)).toBe(roles[0] ?? fallback);
        expect(new Set(roles).size).toBe(roles.length);
        // Each role appears at the best priority any matching rule gives it, in that order.
        const best = (role: string) =>
          Math.min(...rules.filter((r) => r.role === role && live.some((g) => g.externalId === r.group || g.name === r.group)).map((r) => r.priority));
        expect(roles.map(best)).toEqual([...roles.map(best)].sort((x, y) => x - y));
      }),
    );
  });
});
