// Rows of a raw statement (`select t.*`) turned into the shape Drizzle's own selects return:
// camel-case keys, each value through its column's decoder. Drizzle's generic mapper checks
// every column of every row for what kind of field it is; a page of 500 rows made that a
// measurable share of a request, so the column list is worked out once per table here.
import { getTableColumns, type InferSelectModel, type Table } from 'drizzle-orm';

type Decode = (value: unknown) => unknown;
export type RowMapper<T extends Table> = (raw: Record<string, unknown>) => InferSelectModel<T>;

const mappers = new WeakMap<Table, RowMapper<Table>>();

export function rowMapper<T extends Table>(table: T): RowMapper<T> {
  let mapper = mappers.get(table);
  if (!mapper) {
    const columns = Object.entries(getTableColumns(table)).map(([key, column]) => ({
      key,
      name: column.name,
      decode: column.mapFromDriverValue.bind(column) as Decode,
    }));
    mapper = (raw) => {
      const row: Record<string, unknown> = {};
      for (const { key, name, decode } of columns) {
        const value = raw[name];
        row[key] = value === null || value === undefined ? null : decode(value);
      }
      return row as InferSelectModel<Table>;
    };
    mappers.set(table, mapper);
  }
  return mapper as RowMapper<T>;
}
