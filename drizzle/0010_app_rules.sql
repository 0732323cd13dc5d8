CREATE TABLE "tenant_rules" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"role_rules" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"default_role" text,
	"attribute_mappings" jsonb,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tenant_rules" ADD CONSTRAINT "tenant_rules_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;