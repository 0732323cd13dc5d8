/** A JSON value, as JSON.parse returns it and the database's jsonb columns hold it. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
