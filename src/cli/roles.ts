// npm run roles -- show|set|map: a tenant's role rules and attribute mappings, set directly in
// the service's database (as the setRoleRules and setAttributeMappings mutations do).
import { parseArgs } from 'node:util';
import { eq } from 'drizzle-orm';
import { tenantIdFromRef } from '../auth/api-keys.js';
import { loadConfig } from '../config.js';
import { tenants } from '../db/schema.js';
import type { AttributeMapping, RoleRule } from '../db/vocabulary.js';
import { InvalidSetting, readAppSettings, storeAttributeMappings, storeRoleRules } from '../directory/app-settings.js';
import { toGlobalId } from '../lib/global-id.js';
import { defaultAttributeMappings } from '../sources/index.js';
import { openForCommand } from './database.js';
import { runCommand, UsageError } from './command.js';

const USAGE = `Usage:
  npm run roles -- show --tenant <tenant id>
  npm run roles -- set --tenant <tenant id> [--rule "<group>=<role>[:<priority>]"]... [--default <role>]
  npm run roles -- map --tenant <tenant id> [--attribute "<name>=<path>"]...

show  the tenant's role rules, default role and attribute mappings (its provider's defaults
      until it sets its own).
set   replaces the role rules: members of <group> (its provider id, or its exact name) have
      <role>; the lowest priority wins (default: the rule's place in the list, 1 first). No
      --rule clears them; --default gives members of no mapped group a role.
map   replaces the attribute mappings: Member.attributes.<name> is read at <path> in the
      member's provider object (dotted; a SCIM schema URN is one segment). No --attribute maps
      nothing.

After set or map, the service works out the tenant's members again and pushes each whose
appRole, appRoles or attributes moved to memberChanged subscribers: a running one within 2 s,
on the embedded database when it next starts.

--tenant takes a tenants.id (uuid) or a Tenant's GraphQL id. Uses DATABASE_URL, or the
embedded database in DATA_DIR, which the service must not have open: stop \`npm start\` first.`;

type Args =
  | { command: 'show'; tenantId: string }
  | { command: 'set'; tenantId: string; rules: RoleRule[]; defaultRole: string | null }
  | { command: 'map'; tenantId: string; mappings: AttributeMapping[] };

function parseRule(text: string, index: number): RoleRule {
  const at = text.lastIndexOf('=');
  if (at <= 0 || at === text.length - 1) throw new UsageError(`--rule ${JSON.stringify(text)}: expected <group>=<role>[:<priority>]`);
  const group = text.slice(0, at);
  const rest = text.slice(at + 1);
  const m = /^(.*):(-?\d{1,9})$/.exec(rest);
  return m ? { group, role: m[1] as string, priority: Number(m[2]) } : { group, role: rest, priority: index + 1 };
}

function parseMapping(text: string): AttributeMapping {
  const at = text.indexOf('=');
  if (at <= 0 || at === text.length - 1) throw new UsageError(`--attribute ${JSON.stringify(text)}: expected <name>=<path>`);
  return { name: text.slice(0, at), path: text.slice(at + 1) };
}

function parse(argv: string[]): Args | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      rule: { type: 'string', multiple: true },
      default: { type: 'string' },
      attribute: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const [command, ...rest] = positionals;
  if (command !== 'show' && command !== 'set' && command !== 'map') throw new UsageError(command ? `unknown command ${command}` : 'name a command: show, set or map');
  if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
  if (values.tenant === undefined) throw new UsageError('--tenant <tenant id> is required');
  const tenantId = tenantIdFromRef(values.tenant);
  if (tenantId === undefined) throw new UsageError(`--tenant ${values.tenant} is neither a tenant id (uuid) nor a Tenant's GraphQL id`);
  if (command !== 'set' && (values.rule || values.default !== undefined)) throw new UsageError('--rule and --default are for set');
  if (command !== 'map' && values.attribute) throw new UsageError('--attribute is for map');
  if (command === 'set') return { command, tenantId, rules: (values.rule ?? []).map(parseRule), defaultRole: values.default ?? null };
  if (command === 'map') return { command, tenantId, mappings: (values.attribute ?? []).map(parseMapping) };
  return { command, tenantId };
}

runCommand('roles', USAGE, parse, async (args) => {
  const handle = await openForCommand('roles', loadConfig(), 1);
  try {
    const [tenant] = await handle.db.select().from(tenants).where(eq(tenants.id, args.tenantId));
    if (!tenant) {
      console.error(`roles: no tenant ${args.tenantId} in this database`);
      return 1;
    }
    try {
      if (args.command === 'set') await storeRoleRules(handle.db, tenant.id, args.rules, args.defaultRole);
      if (args.command === 'map') await storeAttributeMappings(handle.db, tenant.id, args.mappings);
    } catch (error) {
      if (!(error instanceof InvalidSetting)) throw error;
      console.error(`roles: ${error.message}`);
      return 2;
    }
    const settings = await readAppSettings(handle.db, tenant.id);
    const rules = settings?.roleRules ?? [];
    const mappings = settings?.attributeMappings ?? defaultAttributeMappings(tenant.provider);
    console.log(`tenant ${tenant.name ?? tenant.externalId} (${tenant.provider}, ${toGlobalId('Tenant', tenant.id)})`);
    console.log(rules.length ? 'role rules (lowest priority first wins):' : 'role rules: none');
    for (const r of [...rules].sort((x, y) => x.priority - y.priority)) console.log(`  ${r.priority}\t${r.group} -> ${r.role}`);
    console.log(`default role: ${settings?.defaultRole ?? 'none'}`);
    console.log(settings?.attributeMappings ? 'attribute mappings:' : `attribute mappings: the ${tenant.provider} defaults`);
    for (const m of mappings) console.log(`  ${m.name}\t${m.path}`);
    if (args.command !== 'show') {
      const when = handle.kind === 'pglite' ? 'when it next starts' : 'within 2 s if it is running';
      console.log(`members whose values this moves are pushed to memberChanged subscribers by the service, ${when}`);
    }
    return 0;
  } finally {
    await handle.close();
  }
});
