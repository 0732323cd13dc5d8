CREATE TABLE "changes" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" uuid,
	"entity" text NOT NULL,
	"entity_id" uuid NOT NULL,
	"action" text NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivery_id" uuid NOT NULL
);
--> statement-breakpoint
CREATE TABLE "connections" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"provider" text NOT NULL,
	"external_id" text NOT NULL,
	"live_version" text,
	"deleted_at" timestamp with time zone,
	"data_version" text,
	"data_hash" text,
	"data_from_snapshot" boolean DEFAULT false NOT NULL,
	"raw" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"tenant_id" uuid,
	"kind" text NOT NULL,
	"status" text,
	"name" text,
	CONSTRAINT "connections_provider" CHECK (provider in ('POLIS', 'STYTCH')),
	CONSTRAINT "connections_kind" CHECK ("connections"."kind" in ('SAML', 'OIDC', 'DIRECTORY'))
);
--> statement-breakpoint
CREATE TABLE "deliveries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"source" text NOT NULL,
	"event_types" text[] NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"signed_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"duplicates" integer DEFAULT 0 NOT NULL,
	"last_duplicate_at" timestamp with time zone,
	"body" jsonb NOT NULL,
	"outcomes" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "delivery_keys" (
	"key" text PRIMARY KEY NOT NULL,
	"delivery_id" uuid NOT NULL
);
--> statement-breakpoint
CREATE TABLE "groups" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"provider" text NOT NULL,
	"external_id" text NOT NULL,
	"live_version" text,
	"deleted_at" timestamp with time zone,
	"data_version" text,
	"data_hash" text,
	"data_from_snapshot" boolean DEFAULT false NOT NULL,
	"raw" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"tenant_id" uuid,
	"connection_id" uuid,
	"name" text,
	CONSTRAINT "groups_provider" CHECK (provider in ('POLIS', 'STYTCH'))
);
--> statement-breakpoint
CREATE TABLE "members" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"provider" text NOT NULL,
	"external_id" text NOT NULL,
	"live_version" text,
	"deleted_at" timestamp with time zone,
	"data_version" text,
	"data_hash" text,
	"data_from_snapshot" boolean DEFAULT false NOT NULL,
	"raw" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"tenant_id" uuid,
	"connection_id" uuid,
	"email" text,
	"name" text,
	"first_name" text,
	"last_name" text,
	"status" text,
	"roles" text[] DEFAULT '{}'::text[] NOT NULL,
	CONSTRAINT "members_provider" CHECK (provider in ('POLIS', 'STYTCH'))
);
--> statement-breakpoint
CREATE TABLE "memberships" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"provider" text NOT NULL,
	"external_id" text NOT NULL,
	"live_version" text,
	"deleted_at" timestamp with time zone,
	"data_version" text,
	"data_hash" text,
	"data_from_snapshot" boolean DEFAULT false NOT NULL,
	"raw" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"tenant_id" uuid,
	"group_id" uuid,
	"member_id" uuid,
	CONSTRAINT "memberships_provider" CHECK (provider in ('POLIS', 'STYTCH'))
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"provider" text NOT NULL,
	"external_id" text NOT NULL,
	"live_version" text,
	"deleted_at" timestamp with time zone,
	"data_version" text,
	"data_hash" text,
	"data_from_snapshot" boolean DEFAULT false NOT NULL,
	"raw" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"product" text DEFAULT '' NOT NULL,
	"name" text,
	"slug" text,
	CONSTRAINT "tenants_provider" CHECK (provider in ('POLIS', 'STYTCH'))
);
--> statement-breakpoint
ALTER TABLE "changes" ADD CONSTRAINT "changes_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "changes" ADD CONSTRAINT "changes_delivery_id_deliveries_id_fk" FOREIGN KEY ("delivery_id") REFERENCES "public"."deliveries"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connections" ADD CONSTRAINT "connections_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "delivery_keys" ADD CONSTRAINT "delivery_keys_delivery_id_deliveries_id_fk" FOREIGN KEY ("delivery_id") REFERENCES "public"."deliveries"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "groups" ADD CONSTRAINT "groups_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "groups" ADD CONSTRAINT "groups_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "members" ADD CONSTRAINT "members_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "members" ADD CONSTRAINT "members_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_member_id_members_id_fk" FOREIGN KEY ("member_id") REFERENCES "public"."members"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "changes_tenant_seq" ON "changes" USING btree ("tenant_id","seq");--> statement-breakpoint
CREATE INDEX "changes_entity" ON "changes" USING btree ("entity_id");--> statement-breakpoint
CREATE UNIQUE INDEX "connections_natural_key" ON "connections" USING btree ("provider","external_id");--> statement-breakpoint
CREATE INDEX "connections_tenant" ON "connections" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "deliveries_received" ON "deliveries" USING btree ("received_at");--> statement-breakpoint
CREATE UNIQUE INDEX "groups_natural_key" ON "groups" USING btree ("provider","external_id");--> statement-breakpoint
CREATE INDEX "groups_tenant" ON "groups" USING btree ("tenant_id");--> statement-breakpoint
CREATE UNIQUE INDEX "members_natural_key" ON "members" USING btree ("provider","external_id");--> statement-breakpoint
CREATE INDEX "members_tenant" ON "members" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "members_connection" ON "members" USING btree ("connection_id");--> statement-breakpoint
CREATE UNIQUE INDEX "memberships_natural_key" ON "memberships" USING btree ("provider","external_id");--> statement-breakpoint
CREATE INDEX "memberships_group" ON "memberships" USING btree ("group_id");--> statement-breakpoint
CREATE INDEX "memberships_member" ON "memberships" USING btree ("member_id");--> statement-breakpoint
CREATE UNIQUE INDEX "tenants_natural_key" ON "tenants" USING btree ("provider","external_id","product");