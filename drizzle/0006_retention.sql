CREATE TABLE "feed_horizon" (
	"id" integer PRIMARY KEY NOT NULL,
	"pruned_through" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "deliveries" ALTER COLUMN "body" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "deliveries" ALTER COLUMN "outcomes" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "pruned_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "changes_delivery" ON "changes" USING btree ("delivery_id");--> statement-breakpoint
CREATE INDEX "deliveries_unpruned" ON "deliveries" USING btree ("received_at") WHERE "deliveries"."pruned_at" is null and "deliveries"."status" <> 'rejected';