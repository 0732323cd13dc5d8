ALTER TABLE "deliveries" ADD COLUMN "sender" text;--> statement-breakpoint
CREATE INDEX "deliveries_rejected_by_sender" ON "deliveries" USING btree ("sender") WHERE "deliveries"."status" = 'rejected';