CREATE TABLE "app_recomputes" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"cause" text NOT NULL,
	"after_created_at" timestamp (3) with time zone,
	"after_id" uuid,
	"requested_at" timestamp with time zone DEFAULT now() NOT NULL,
	"done" integer DEFAULT 0 NOT NULL,
	"moved" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "app_values_position" (
	"id" integer PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "member_app_values" (
	"member_id" uuid PRIMARY KEY NOT NULL,
	"hash" text
);
--> statement-breakpoint
ALTER TABLE "changes" ALTER COLUMN "delivery_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "app_recomputes" ADD CONSTRAINT "app_recomputes_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "member_app_values" ADD CONSTRAINT "member_app_values_member_id_members_id_fk" FOREIGN KEY ("member_id") REFERENCES "public"."members"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
-- The feed is read for app values from here on: what came before is covered by the upgrade below.
INSERT INTO "app_values_position" ("id", "seq") SELECT 1, coalesce(max("seq"), 0) FROM "changes";
--> statement-breakpoint
-- Members from before app values were kept: each tenant's are worked out in the background (their
-- first hashes are set without a push), so that later changes of their values are fed.
INSERT INTO "app_recomputes" ("tenant_id", "cause") SELECT DISTINCT "tenant_id", 'upgrade' FROM "members" WHERE "tenant_id" IS NOT NULL;
