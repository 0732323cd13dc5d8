-- pgbench script: the statements the service runs for one Stytch `member.created` delivery
-- (captured with log_statement = all), as one transaction, without the change feed's advisory
-- lock. What Postgres can do for the same work is the ceiling bench/ingest.ts compares the
-- service with. It runs on a fresh database migrated by the service's own migrations, where
-- bench/ingest.ts has created the tenants `organization-bench-0` to `-49`.
--
--   pgbench -n -M extended -c 32 -j 2 -T 10 -f bench/ingest-ceiling.sql <database url>
\set org random(0, 49)
\set n random(1, 9000000000000000000)
begin;
-- Claim: the delivery row and its idempotency key, in one statement.
with stored as (
  insert into deliveries (source, event_types, status, signed_at, body, outcomes)
  values ('stytch', '{scim.member.create}', 'unchanged', now(),
    '{"id": "member-pgbench", "action": "CREATE", "member": {"name": "Member", "roles": [{"role_id": "stytch_member", "sources": []}], "status": "active", "member_id": "member-pgbench", "email_address": "member-pgbench@bench.example", "organization_id": "organization-bench-1", "trusted_metadata": {}}, "source": "SCIM", "event_id": "event-pgbench", "vertical": "B2B", "timestamp": "2026-11-30T18:40:12.633Z", "project_id": "project-bench", "object_type": "member"}',
    '[]')
  returning id
)
insert into delivery_keys (key, delivery_id)
select 'svix-msg_pgbench_' || :client_id::text || '_' || :n::text, stored.id from stored
on conflict do nothing
returning delivery_id
\gset
-- The tenant the member belongs to.
select id as tenant_id from tenants
where provider = 'STYTCH' and external_id = 'organization-bench-' || :org::text and product = ''
\gset
-- The member, locked (absent: it is new).
select id, live_version, deleted_at, data_version, data_hash, data_from_snapshot, tenant_id, status
from members
where provider = 'STYTCH' and external_id = 'member-pgbench-' || :client_id::text || '-' || :n::text and scope = ''
for no key update;
insert into members (provider, external_id, live_version, deleted_at, data_version, data_hash, data_from_snapshot,
  raw, scope, tenant_id, connection_id, email, name, first_name, last_name, status, roles)
values ('STYTCH', 'member-pgbench-' || :client_id::text || '-' || :n::text, '01796064012633000000.000000', null,
  '01796064012633000000.000000', md5(:n::text), false,
  '{"name": "Member", "roles": [{"role_id": "stytch_member", "sources": []}], "status": "active", "member_id": "member-pgbench", "email_address": "member-pgbench@bench.example", "organization_id": "organization-bench-1", "trusted_metadata": {}}',
  '', :tenant_id, null, 'member-pgbench-' || :client_id::text || '-' || :n::text || '@bench.example', 'Member', null, null, 'ACTIVE', '{stytch_member}')
on conflict do nothing
returning id as member_id
\gset
-- The delivery's outcome, the feed row and the notification, in one statement.
with alongside as (
  update deliveries set event_types = '{scim.member.create}', status = 'applied', reason = null,
    outcomes = '[{"type": "scim.member.create", "changes": [{"op": "upsert", "entity": "MEMBER", "outcome": "applied", "version": "01796064012633000000.000000", "externalId": "member-pgbench"}]}]'
  where id = :delivery_id
), inserted as (
  insert into changes (tenant_id, entity, entity_id, action, occurred_at, delivery_id)
  values (:tenant_id, 'MEMBER', :member_id, 'CREATED', now(), :delivery_id)
  returning seq
), last as (select max(seq) as seq from inserted)
select last.seq::text as seq, pg_notify('directory_changes', last.seq::text) from last;
commit;
