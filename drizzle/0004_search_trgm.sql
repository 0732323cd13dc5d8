-- Trigram indexes make substring search (ILIKE '%...%') use an index; pg_trgm ships with
-- Postgres (contrib) and is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;--> statement-breakpoint
CREATE INDEX "members_search_trgm" ON "members" USING gin (((coalesce("name", '') || ' ' || coalesce("email", '') || ' ' || coalesce("first_name", '') || ' ' || coalesce("last_name", ''))) gin_trgm_ops);