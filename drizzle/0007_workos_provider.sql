ALTER TABLE "connections" DROP CONSTRAINT "connections_provider";--> statement-breakpoint
ALTER TABLE "groups" DROP CONSTRAINT "groups_provider";--> statement-breakpoint
ALTER TABLE "members" DROP CONSTRAINT "members_provider";--> statement-breakpoint
ALTER TABLE "memberships" DROP CONSTRAINT "memberships_provider";--> statement-breakpoint
ALTER TABLE "tenants" DROP CONSTRAINT "tenants_provider";--> statement-breakpoint
ALTER TABLE "connections" ADD CONSTRAINT "connections_provider" CHECK (provider in ('POLIS', 'STYTCH', 'WORKOS'));--> statement-breakpoint
ALTER TABLE "groups" ADD CONSTRAINT "groups_provider" CHECK (provider in ('POLIS', 'STYTCH', 'WORKOS'));--> statement-breakpoint
ALTER TABLE "members" ADD CONSTRAINT "members_provider" CHECK (provider in ('POLIS', 'STYTCH', 'WORKOS'));--> statement-breakpoint
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_provider" CHECK (provider in ('POLIS', 'STYTCH', 'WORKOS'));--> statement-breakpoint
ALTER TABLE "tenants" ADD CONSTRAINT "tenants_provider" CHECK (provider in ('POLIS', 'STYTCH', 'WORKOS'));