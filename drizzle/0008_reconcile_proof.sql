ALTER TABLE "reconcile_runs" ADD COLUMN "still_there" integer;--> statement-breakpoint
ALTER TABLE "reconcile_runs" ADD COLUMN "unverified" integer;--> statement-breakpoint
ALTER TABLE "reconcile_runs" ADD COLUMN "notes" text[];--> statement-breakpoint
ALTER TABLE "reconcile_runs" ADD COLUMN "cursor" text;