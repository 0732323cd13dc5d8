import type { z } from 'zod';

/** "data.id: Invalid input: expected string, received undefined", naming the first bad field. */
export function describeZodError(error: z.ZodError, prefix: (string | number)[] = []): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid event';
  const path = [...prefix, ...issue.path]
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
  return `${path || 'body'}: ${issue.message}`;
}
