// The text of a compiled statement and its parameters, built as plain strings: the compiler
// assembles a few hundred pieces per operation, and Drizzle's SQL objects cost several times
// the rest of the compile (measured: 70% of it). Conditions shared with the resolvers
// (graphql/filters.ts) stay Drizzle SQL and are rendered into the text here.
import { sql, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';

const dialect = new PgDialect();

export class Statement {
  readonly params: unknown[] = [];

  /** A parameter, with the type Postgres cannot always infer said (`$3::uuid`). */
  p(value: unknown, cast?: string): string {
    this.params.push(value);
    return cast ? `$${this.params.length}::${cast}` : `$${this.params.length}`;
  }

  /** A Drizzle condition, its parameters renumbered into this statement's. */
  fragment(condition: SQL): string {
    const query = dialect.sqlToQuery(condition);
    const offset = this.params.length;
    this.params.push(...query.params);
    return offset === 0 ? query.sql : query.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
  }

  /** Conditions ANDed (true when none). */
  where(conditions: (string | SQL)[]): string {
    if (conditions.length === 0) return 'true';
    return conditions.map((c) => (typeof c === 'string' ? c : this.fragment(c))).join(' and ');
  }

  /** The statement for db.execute: Drizzle numbers the parameters again in the order they appear. */
  toSql(text: string): SQL {
    const strings: string[] = [];
    const values: unknown[] = [];
    let last = 0;
    for (const match of text.matchAll(/\$(\d+)/g)) {
      strings.push(text.slice(last, match.index));
      values.push(this.params[Number(match[1]) - 1]);
      last = (match.index ?? 0) + match[0].length;
    }
    strings.push(text.slice(last));
    return sql(Object.assign(strings, { raw: strings }) as unknown as TemplateStringsArray, ...values);
  }
}
