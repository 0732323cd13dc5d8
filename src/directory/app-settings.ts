// A tenant's app settings (role rules, default role, attribute mappings): checked and stored,
// for the admin mutations (graphql/resolvers/app-rules.ts) and the `roles` command alike.
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../db/open.js';
import { tenantRules } from '../db/schema.js';
import type { AttributeMapping, RoleRule } from '../db/vocabulary.js';
import { textProblem } from '../lib/storable-json.js';
import { requestRecompute } from './app-recompute.js';
import { pathSegments } from './attributes.js';
import type { Tx } from './rows.js';

export const MAX_RULES = 200;
export const MAX_MAPPINGS = 50;
const MAX_NAME = 256;
const MAX_PATH = 1024;

/** A setting that cannot be stored as given: `argument` names it as the caller spells it. */
export class InvalidSetting extends Error {
  constructor(
    message: string,
    readonly argument: string,
  ) {
    super(message);
  }
}

function text(value: string, argument: string, max: number): string {
  if (value === '') throw new InvalidSetting(`${argument} must not be empty`, argument);
  if (value.length > max) throw new InvalidSetting(`${argument} is ${value.length} characters long; it may have at most ${max}`, argument);
  if (textProblem(value)) {
    throw new InvalidSetting(`${argument} holds a character no text can (NUL, or half of a surrogate pair)`, argument);
  }
  return value;
}

export function checkedRules(rules: readonly RoleRule[]): RoleRule[] {
  if (rules.length > MAX_RULES) throw new InvalidSetting(`${rules.length} rules; a tenant has at most ${MAX_RULES}`, 'rules');
  return rules.map((rule, i) => ({
    group: text(rule.group, `rules[${i}].group`, MAX_NAME),
    role: text(rule.role, `rules[${i}].role`, MAX_NAME),
    priority: rule.priority,
  }));
}

export function checkedMappings(mappings: readonly AttributeMapping[]): AttributeMapping[] {
  if (mappings.length > MAX_MAPPINGS) throw new InvalidSetting(`${mappings.length} mappings; a tenant has at most ${MAX_MAPPINGS}`, 'mappings');
  const names = new Set<string>();
  return mappings.map((mapping, i) => {
    const name = text(mapping.name, `mappings[${i}].name`, MAX_NAME);
    const path = text(mapping.path, `mappings[${i}].path`, MAX_PATH);
    if (names.has(name)) throw new InvalidSetting(`mappings name ${JSON.stringify(name)} twice`, `mappings[${i}].name`);
    names.add(name);
    const segments = pathSegments(path);
    if ('error' in segments) throw new InvalidSetting(`mappings[${i}].path: ${segments.error}`, `mappings[${i}].path`);
    return { name, path };
  });
}

/**
 * Stores a setting and, in the same transaction, asks for the tenant's members to be worked out
 * again (app-recompute.ts): whoever's values it moves is fed as a member UPDATED, soon after.
 */
async function storing(db: Database, tenantId: string, store: (tx: Tx) => Promise<unknown>): Promise<void> {
  await db.transaction(async (tx) => {
    await store(tx);
    await tx.execute(requestRecompute(sql`select ${tenantId}::uuid as tenant_id`, 'settings'));
  });
}

/** Replaces a tenant's role rules and default role (null or empty: none). */
export async function storeRoleRules(db: Database, tenantId: string, rules: readonly RoleRule[], defaultRole: string | null): Promise<void> {
  const checked = checkedRules(rules);
  const fallback = defaultRole === null || defaultRole === '' ? null : text(defaultRole, 'defaultRole', MAX_NAME);
  await storing(db, tenantId, (tx) =>
    tx
      .insert(tenantRules)
      .values({ tenantId, roleRules: checked, defaultRole: fallback })
      .onConflictDoUpdate({ target: tenantRules.tenantId, set: { roleRules: checked, defaultRole: fallback, updatedAt: sql`now()` } }),
  );
}

/** Replaces a tenant's attribute mappings. */
export async function storeAttributeMappings(db: Database, tenantId: string, mappings: readonly AttributeMapping[]): Promise<void> {
  const checked = checkedMappings(mappings);
  await storing(db, tenantId, (tx) =>
    tx
      .insert(tenantRules)
      .values({ tenantId, attributeMappings: checked })
      .onConflictDoUpdate({ target: tenantRules.tenantId, set: { attributeMappings: checked, updatedAt: sql`now()` } }),
  );
}

/** What a tenant has set; undefined when it has set nothing. */
export async function readAppSettings(db: Database, tenantId: string) {
  const [row] = await db.select().from(tenantRules).where(eq(tenantRules.tenantId, tenantId));
  return row;
}
