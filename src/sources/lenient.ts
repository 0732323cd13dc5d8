// Reading the fields the directory does not need to identify an object, the way RFC 7643 lets
// SCIM clients send them and identity providers pass them on: a multi-valued attribute as a
// list of strings, of complex values `{value, display, type, primary}`, or one comma-separated
// string; booleans as the strings "True"/"False". None of these readers refuses anything: a
// value that still cannot be read is left out, and the reader says so in `warnings`, which the
// delivery records beside what was applied. Only an object's identity (its id) can make an
// event unreadable; that is the schemas' job, not this module's.
import { MAX_EMAIL_LENGTH } from './fields.js';
import { truncate } from '../lib/truncate.js';

/** Where a reader notes what it left out: `data.roles[1]: ...`. */
export type Warnings = string[];

const describe = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${truncate(text, 60)}...` : text;
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** A complex value's `value` (else its `display`), as RFC 7643 section 2.4 shapes them. */
function complexValue(value: Record<string, unknown>): unknown {
  return value.value ?? value.display;
}

/** Free text (a name): a string, a number written out, or nothing. */
export function readText(value: unknown, path: string, warnings: Warnings): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  warnings.push(`${path}: ${describe(value)} is not text; left out`);
  return null;
}

/**
 * An email address: a string, or SCIM's `emails` shape (a list of complex values, the primary
 * one first, else the first). Longer than RFC 5321 allows is left out.
 */
export function readEmail(value: unknown, path: string, warnings: Warnings): string | null {
  let candidate = value;
  if (Array.isArray(value)) {
    const values = value.filter(isRecord);
    candidate = complexValue(values.find((v) => v.primary === true || v.primary === 'true') ?? values[0] ?? {}) ?? value[0];
  } else if (isRecord(value)) {
    candidate = complexValue(value);
  }
  if (candidate === undefined || candidate === null || candidate === '') return null;
  if (typeof candidate !== 'string') {
    warnings.push(`${path}: ${describe(value)} is not an email address; left out`);
    return null;
  }
  if (candidate.length > MAX_EMAIL_LENGTH) {
    warnings.push(`${path}: longer than ${MAX_EMAIL_LENGTH} characters; left out`);
    return null;
  }
  return candidate;
}

/**
 * Whether an account is active: a boolean, or a string "true"/"false" in any case (Entra ID
 * sends "True" and "False"). Absent means active, as SCIM's default is. A value that cannot be
 * read counts as inactive: the directory drives access control, and an account whose state is
 * unknown must not be let in; the next readable event sets it right.
 */
export function readActive(value: unknown, path: string, warnings: Warnings): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
  warnings.push(`${path}: ${describe(value)} is not true or false; the member is taken as inactive`);
  return false;
}

/**
 * Roles: one comma-separated string, or a list of strings or complex values (Entra ID's role
 * mapping sends `[{"value":"admin","display":"Admin","primary":true}]`). Trimmed, blanks and
 * repeats dropped, in the order given.
 */
export function readRoles(value: unknown, path: string, warnings: Warnings): string[] {
  if (value === undefined || value === null) return [];
  const items = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : [value];
  const roles: string[] = [];
  items.forEach((item, i) => {
    const role = isRecord(item) ? complexValue(item) : item;
    if (typeof role === 'string' || (typeof role === 'number' && Number.isFinite(role))) {
      const name = String(role).trim();
      if (name !== '' && !roles.includes(name)) roles.push(name);
    } else if (role !== undefined && role !== null) {
      warnings.push(`${path}${Array.isArray(value) ? `[${i}]` : ''}: ${describe(item)} is not a role; left out`);
    }
  });
  return roles;
}
