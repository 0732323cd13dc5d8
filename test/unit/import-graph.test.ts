// The rooms of src/ and the one direction imports go between them (docs/architecture.md):
// each room imports only rooms before it in ROOMS, and no module imports itself back through
// others. Type-only imports count: a circle of types is still a circle to read.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Lowest first; a top-level file is a room of its own, named without `.ts`. */
const ROOMS = [
  'lib',
  'db',
  'directory',
  'reconcile',
  'auth',
  'config',
  'log',
  'metrics',
  'telemetry',
  'sources',
  'replay',
  'unfinished',
  'retention',
  'recompute',
  'samples',
  'live',
  'graphql',
  'read',
  'http',
  'local-secrets',
  'cli',
  'stray-errors',
  'server',
  'main',
];

function modules(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return modules(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g;

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of modules(SRC)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(IMPORT)].map((m) => resolve(dirname(file), (m[1] ?? m[2]) as string).replace(/\.js$/, '.ts'));
    graph.set(file, targets);
  }
  return graph;
}

const roomOf = (file: string): string => {
  const [first] = relative(SRC, file).split(sep) as [string];
  return first.replace(/\.ts$/, '');
};

describe('the import graph of src/', () => {
  const graph = importGraph();

  it('knows every room', () => {
    const rooms = new Set([...graph.keys()].map(roomOf));
    expect([...rooms].filter((r) => !ROOMS.includes(r))).toEqual([]);
    // Every import names a module that exists (a typo would hide an edge from the checks below).
    const missing = [...graph.values()].flat().filter((target) => !graph.has(target));
    expect(missing.map((t) => relative(SRC, t))).toEqual([]);
  });

  it('has no upward import: each room imports only rooms below it', () => {
    const upward = [...graph].flatMap(([file, targets]) =>
      targets
        .filter((target) => ROOMS.indexOf(roomOf(target)) > ROOMS.indexOf(roomOf(file)))
        .map((target) => `${relative(SRC, file)} -> ${relative(SRC, target)}`),
    );
    expect(upward).toEqual([]);
  });

  it('has no circle', () => {
    // Depth-first search: an edge back to a module on the current path closes a circle.
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const path: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'open');
      path.push(file);
      for (const target of graph.get(file) ?? []) {
        if (state.get(target) === 'open') circles.push(path.slice(path.indexOf(target)).concat(target).map((f) => relative(SRC, f)).join(' -> '));
        else if (!state.has(target)) visit(target);
      }
      path.pop();
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    expect(circles).toEqual([]);
  });
});
