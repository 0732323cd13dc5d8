// Runs a compiled read: its one statement, and beside it whatever root fields were left to the
// resolvers, joined into the response's `data` as JSON text in the operation's key order.
import type { FieldNode } from 'graphql';
import type { Database } from '../db/open.js';
import { resultRows } from '../db/result.js';
import type { ReadPlan } from './compile.js';

/** The root fields the resolvers answer: their data by response key, or that they failed. */
export type ResolveRest = (fields: FieldNode[]) => Promise<{ data: Record<string, unknown> } | { failed: true }>;

/**
 * The `data` text, or undefined when the answer is not this path's to give: a guard did not hold
 * or a resolved field answered an error (the caller runs the whole operation on the resolvers,
 * which answer it with the error, exactly as before).
 */
export async function readData(db: Database, plan: ReadPlan, resolveRest: ResolveRest): Promise<string | undefined> {
  if (!plan.statement) return undefined;
  const restFields = plan.keys.flatMap((k) => ('fields' in k ? k.fields : []));
  const [result, rest] = await Promise.all([
    db.execute(plan.statement),
    restFields.length ? resolveRest(restFields) : Promise.resolve({ data: {} as Record<string, unknown> }),
  ]);
  const row = resultRows<Record<string, unknown>>(result)[0];
  if (!row || row.ok !== true || 'failed' in rest) return undefined;
  const parts = plan.keys.map((k) => {
    const value = 'column' in k ? ((row[k.column] as string | null) ?? 'null') : JSON.stringify(rest.data[k.key] ?? null);
    return `${JSON.stringify(k.key)}:${value}`;
  });
  return `{${parts.join(',')}}`;
}
