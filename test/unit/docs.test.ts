// The docs stay true to the repository: every relative link in README.md, SECURITY.md and
// docs/ reaches a file that exists and, with an anchor, a heading that exists there; every
// page says first what it is for and is reachable from the README; and every setting
// src/config.ts reads is documented on the configuration page.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = join(ROOT, 'docs');
const pages = [join(ROOT, 'README.md'), join(ROOT, 'SECURITY.md'), ...readdirSync(DOCS).filter((f) => f.endsWith('.md')).map((f) => join(DOCS, f))];

/** The text outside fenced code blocks (links in code are examples, not links). */
const prose = (text: string) => text.replace(/^```[\s\S]*?^```/gm, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');

function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of prose(readFileSync(file, 'utf8')).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(heading!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

const linksOf = (text: string) => [...prose(text).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);

describe('documentation', () => {
  it.each(pages.map((p) => [relative(ROOT, p), p]))('%s: every relative link and anchor resolves', (_name, page) => {
    const broken: string[] = [];
    for (const link of linksOf(readFileSync(page, 'utf8'))) {
      if (/^(https?|mailto):/.test(link)) continue;
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path === '' ? page : resolve(dirname(page), path);
      if (!existsSync(target)) {
        broken.push(`${link}: no such file`);
        continue;
      }
      if (anchor !== undefined && target.endsWith('.md') && !anchorsOf(target).has(anchor)) broken.push(`${link}: no such heading`);
    }
    expect(broken).toEqual([]);
  });

  it.each(readdirSync(DOCS).filter((f) => f.endsWith('.md')))('docs/%s starts with its title and what it is for, and the README links it', (file) => {
    const text = readFileSync(join(DOCS, file), 'utf8');
    expect(text).toMatch(/^# .+\n\nWhat this page is for: /);
    expect(linksOf(readFileSync(join(ROOT, 'README.md'), 'utf8'))).toContain(`docs/${file}`);
  });

  it('documents every setting src/config.ts reads', () => {
    const config = readFileSync(join(ROOT, 'src/config.ts'), 'utf8');
    const schema = config.slice(config.indexOf('const envSchema = z.object({'), config.indexOf('});', config.indexOf('const envSchema')));
    const settings = [...schema.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!);
    expect(settings.length).toBeGreaterThan(30);
    const documented = readFileSync(join(DOCS, 'configuration.md'), 'utf8');
    const missing = settings.filter((s) => !documented.includes(`\`${s}\``));
    expect(missing).toEqual([]);
  });
});
