DROP INDEX "connections_natural_key";--> statement-breakpoint
DROP INDEX "groups_natural_key";--> statement-breakpoint
DROP INDEX "members_natural_key";--> statement-breakpoint
DROP INDEX "memberships_natural_key";--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "scope" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "groups" ADD COLUMN "scope" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "members" ADD COLUMN "scope" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "memberships" ADD COLUMN "scope" text DEFAULT '' NOT NULL;--> statement-breakpoint
-- Polis objects were keyed by id alone; from now on within their tenant and product.
UPDATE "connections" AS x SET "scope" = encode(sha256(convert_to(to_json(ARRAY[t."external_id", t."product"])::text, 'UTF8')), 'hex') FROM "tenants" AS t WHERE t."id" = x."tenant_id" AND x."provider" = 'POLIS';--> statement-breakpoint
UPDATE "groups" AS x SET "scope" = encode(sha256(convert_to(to_json(ARRAY[t."external_id", t."product"])::text, 'UTF8')), 'hex') FROM "tenants" AS t WHERE t."id" = x."tenant_id" AND x."provider" = 'POLIS';--> statement-breakpoint
UPDATE "members" AS x SET "scope" = encode(sha256(convert_to(to_json(ARRAY[t."external_id", t."product"])::text, 'UTF8')), 'hex') FROM "tenants" AS t WHERE t."id" = x."tenant_id" AND x."provider" = 'POLIS';--> statement-breakpoint
UPDATE "memberships" AS x SET "scope" = encode(sha256(convert_to(to_json(ARRAY[t."external_id", t."product"])::text, 'UTF8')), 'hex') FROM "tenants" AS t WHERE t."id" = x."tenant_id" AND x."provider" = 'POLIS';--> statement-breakpoint
CREATE UNIQUE INDEX "connections_natural_key" ON "connections" USING btree ("provider","scope","external_id");--> statement-breakpoint
CREATE UNIQUE INDEX "groups_natural_key" ON "groups" USING btree ("provider","scope","external_id");--> statement-breakpoint
CREATE UNIQUE INDEX "members_natural_key" ON "members" USING btree ("provider","scope","external_id");--> statement-breakpoint
CREATE UNIQUE INDEX "memberships_natural_key" ON "memberships" USING btree ("provider","scope","external_id");