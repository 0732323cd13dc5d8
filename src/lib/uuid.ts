/** A UUID as Postgres writes one (lowercase hex, hyphenated); `i` where a person may type it. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID_ANY_CASE = new RegExp(UUID.source, 'i');

/** Whether `value` is a UUID as Postgres writes one. */
export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/** Whether `value` is a UUID in any case (Postgres reads both). */
export const isUuidAnyCase = (value: string): boolean => UUID_ANY_CASE.test(value);
