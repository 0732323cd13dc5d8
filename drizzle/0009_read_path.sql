-- The compiled read path (src/read) shows a tenant viewer's `raw` as the provider's adapter
-- allows it: this is src/lib/pick.ts in SQL, so the statement can build it in Postgres. `shape`
-- is json, not jsonb, to keep the allow-list's key order (the order pick.ts writes keys in).
-- An object keeps the shape's keys it has (true: as they are; a nested shape: that much of an
-- object or array); an array keeps its objects and arrays, each picked; anything else is null.
CREATE FUNCTION dsync_pick(value jsonb, shape json) RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE jsonb_typeof(value)
    WHEN 'array' THEN coalesce(
      (SELECT json_agg(dsync_pick(item, shape) ORDER BY n)
         FROM jsonb_array_elements(value) WITH ORDINALITY AS e(item, n)
        WHERE jsonb_typeof(item) IN ('object', 'array')),
      '[]'::json)
    WHEN 'object' THEN coalesce(
      (SELECT ('{' || string_agg(
                 to_json(s.key)::text || ':' ||
                 CASE WHEN json_typeof(s.rule) = 'object' THEN dsync_pick(value -> s.key, s.rule)::text ELSE (value -> s.key)::text END,
                 ',' ORDER BY s.n) || '}')::json
         FROM json_each(shape) WITH ORDINALITY AS s(key, rule, n)
        WHERE value ? s.key
          AND (json_typeof(s.rule) <> 'object' OR jsonb_typeof(value -> s.key) IN ('object', 'array'))),
      '{}'::json)
  END
$$;
