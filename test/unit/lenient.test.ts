// The lenient readers: every shape RFC 7643 allows for the fields the directory reads, and
// what is left out (with a warning) when a value still cannot be read.
import { describe, expect, it } from 'vitest';
import { readActive, readEmail, readRoles, readText, type Warnings } from '../../src/sources/lenient.js';

const read = <T>(reader: (v: unknown, path: string, w: Warnings) => T, value: unknown) => {
  const warnings: Warnings = [];
  return { value: reader(value, 'data.x', warnings), warnings };
};

describe('lenient SCIM readers', () => {
  it('roles: a comma string, strings, complex values (Entra ID), numbers; trimmed, blanks and repeats dropped', () => {
    expect(read(readRoles, 'admin, engineer,,admin')).toEqual({ value: ['admin', 'engineer'], warnings: [] });
    expect(read(readRoles, [' admin', 'engineer'])).toEqual({ value: ['admin', 'engineer'], warnings: [] });
    expect(read(readRoles, [{ value: 'admin', display: 'Admin', type: 'WindowsAzureActiveDirectoryRole', primary: true }])).toEqual({ value: ['admin'], warnings: [] });
    expect(read(readRoles, [{ display: 'Reader' }, 42])).toEqual({ value: ['Reader', '42'], warnings: [] });
    expect(read(readRoles, { value: 'solo' })).toEqual({ value: ['solo'], warnings: [] });
    expect(read(readRoles, null)).toEqual({ value: [], warnings: [] });
  });

  it('roles: what is not a role is left out, each with a warning naming where', () => {
    const { value, warnings } = read(readRoles, ['ok', [1], { type: 'x' }, true]);
    expect(value).toEqual(['ok']);
    expect(warnings).toEqual([
      'data.x[1]: [1] is not a role; left out',
      'data.x[3]: true is not a role; left out',
    ]);
  });

  it('active: booleans, "True"/"False" in any case, absent means active; anything else counts as inactive', () => {
    expect(read(readActive, true).value).toBe(true);
    expect(read(readActive, false).value).toBe(false);
    expect(read(readActive, 'False').value).toBe(false);
    expect(read(readActive, ' TRUE ').value).toBe(true);
    expect(read(readActive, undefined)).toEqual({ value: true, warnings: [] });
    expect(read(readActive, 'maybe')).toEqual({ value: false, warnings: ['data.x: "maybe" is not true or false; the member is taken as inactive'] });
    expect(read(readActive, 1).value).toBe(false);
  });

  it('email: a string, or SCIM emails (the primary one, else the first); too long or not text is left out', () => {
    expect(read(readEmail, 'a@x.example').value).toBe('a@x.example');
    expect(read(readEmail, [{ value: 'home@x.example', type: 'home' }, { value: 'work@x.example', type: 'work', primary: true }]).value).toBe('work@x.example');
    expect(read(readEmail, [{ value: 'first@x.example' }, { value: 'second@x.example' }]).value).toBe('first@x.example');
    expect(read(readEmail, '').value).toBeNull();
    expect(read(readEmail, `${'a'.repeat(320)}@x.example`)).toEqual({ value: null, warnings: ['data.x: longer than 320 characters; left out'] });
    expect(read(readEmail, 7)).toEqual({ value: null, warnings: ['data.x: 7 is not an email address; left out'] });
  });

  it('text: strings and numbers; objects are left out', () => {
    expect(read(readText, 'Grace').value).toBe('Grace');
    expect(read(readText, 12).value).toBe('12');
    expect(read(readText, { givenName: 'Grace' })).toEqual({ value: null, warnings: ['data.x: {"givenName":"Grace"} is not text; left out'] });
  });
});
