// Reads one organization's state from Stytch's B2B API (HTTP Basic with the project id and
// secret) for reconciliation: the organization (`GET /v1/b2b/organizations/{id}`), its members
// (`POST /v1/b2b/organizations/members/search`, cursor paging), its SAML and OIDC connections
// (`GET /v1/b2b/sso/{id}`), its SCIM connection (`GET /v1/b2b/scim/{id}/connection`) and that
// connection's groups (`GET /v1/b2b/scim/{id}/connection/{connection_id}`, cursor paging).
// Paths and shapes as Stytch documents them and its Node SDK (stytch) sends them. The SDK itself
// is not the client: it takes another base URL only over HTTPS, and this reader shares
// reconciliation's retry, rate-limit and error handling with the other providers.
//
// Stytch's API lists no group memberships (they are known only from scim_member_group
// webhooks, by ids the API never shows), so memberships are neither listed nor ended here.
import { z } from 'zod';
import type { InboundEvent, Json, TenantKey, Version } from '../../directory/types.js';
import { redact } from '../../lib/redact.js';
import { createProviderHttp, type ProviderHttpOptions } from '../../reconcile/provider-http.js';
import type { Presence, PulledTenant, Puller, PullOptions, PullProgress } from '../../reconcile/types.js';
import { readStytchObject, type StytchObjectType } from './index.js';

export interface StytchPullerOptions {
  /** https://test.stytch.com or https://api.stytch.com (or a stand-in in tests). */
  apiUrl: string;
  projectId: string;
  secret: string;
  /** Results per page asked for (Stytch allows up to 1,000). */
  pageLimit?: number;
  http?: Partial<ProviderHttpOptions>;
}

/** Stytch's base URL for a project: live projects on api.stytch.com, test ones on test.stytch.com. */
export const stytchApiUrl = (projectId: string) =>
  projectId.startsWith('project-live-') ? 'https://api.stytch.com' : 'https://test.stytch.com';

const object = z.looseObject({});
const organization = z.object({ organization: z.looseObject({ organization_id: z.string().min(1) }) });
const memberPage = z.object({
  members: z.array(z.looseObject({ member_id: z.string().min(1) })),
  results_metadata: z.looseObject({ next_cursor: z.string().nullish() }),
});
const ssoConnections = z.object({
  saml_connections: z.array(z.looseObject({ connection_id: z.string().min(1) })).nullish(),
  oidc_connections: z.array(z.looseObject({ connection_id: z.string().min(1) })).nullish(),
});
const scimConnection = z.object({ connection: z.looseObject({ connection_id: z.string().min(1) }).nullish() });
const groupPage = z.object({
  scim_groups: z.array(z.looseObject({ group_id: z.string().min(1) })),
  next_cursor: z.string().nullish(),
});
const oneMember = z.object({ member: object.nullish() });

export function createStytchPuller(options: StytchPullerOptions): Puller {
  const httpOptions = {
    provider: 'Stytch',
    baseUrl: options.apiUrl,
    headers: { authorization: `Basic ${Buffer.from(`${options.projectId}:${options.secret}`).toString('base64')}` },
    ...options.http,
  };
  const limit = options.pageLimit ?? 1000;

  return {
    source: 'stytch',
    provider: 'STYTCH',
    async pull(tenant: TenantKey, version: Version, onProgress: (p: PullProgress) => void, { signal }: PullOptions = {}): Promise<PulledTenant> {
      const http = createProviderHttp({ ...httpOptions, ...(signal ? { signal } : {}) });
      const org = tenant.externalId;
      const path = encodeURIComponent(org);
      const events: InboundEvent[] = [];
      let objects = 0;
      const read = (type: StytchObjectType, id: string, item: Record<string, unknown>) => {
        const change = readStytchObject(type, id, redact(item as Json), version);
        if (change) events.push({ type: `reconcile.${type}`, changes: [change] });
        objects++;
      };

      onProgress({ reading: 'the organization', objects });
      const { organization: o } = await http.get(`/v1/b2b/organizations/${path}`, {}, organization);
      read('organization', o.organization_id, o);

      onProgress({ reading: 'SSO connections', objects });
      const sso = await http.get(`/v1/b2b/sso/${path}`, {}, ssoConnections);
      for (const c of sso.saml_connections ?? []) read('saml_connection', c.connection_id, c);
      for (const c of sso.oidc_connections ?? []) read('oidc_connection', c.connection_id, c);
      const scim = (await http.get(`/v1/b2b/scim/${path}/connection`, {}, scimConnection)).connection;
      if (scim && scim.status !== 'deleted') read('scim_connection', scim.connection_id, scim);

      let cursor: string | undefined;
      for (let page = 1; ; page++) {
        onProgress({ reading: `members (page ${page})`, objects });
        const reply = await http.post('/v1/b2b/organizations/members/search', { organization_ids: [org], limit, ...(cursor ? { cursor } : {}) }, memberPage);
        for (const m of reply.members) read('member', m.member_id, m);
        cursor = reply.results_metadata.next_cursor ?? undefined;
        if (!cursor || reply.members.length === 0) break;
      }

      if (scim && scim.status !== 'deleted') {
        let groupCursor: string | undefined;
        for (let page = 1; ; page++) {
          onProgress({ reading: `SCIM groups (page ${page})`, objects });
          const reply = await http.get(`/v1/b2b/scim/${path}/connection/${encodeURIComponent(scim.connection_id)}`, { limit, cursor: groupCursor }, groupPage);
          for (const g of reply.scim_groups) read('scim_group', g.group_id, g);
          groupCursor = reply.next_cursor ?? undefined;
          if (!groupCursor || reply.scim_groups.length === 0) break;
        }
      }
      onProgress({ reading: 'done', objects });

      return {
        events,
        unverified: [
          "memberships: Stytch's API lists no group memberships by the ids its webhooks use (a member's SCIM groups carry no member_group_id), so they are neither listed nor ended",
        ],
        async confirmGone(candidate): Promise<Presence> {
          const presence = (gone: boolean): Presence => (gone ? 'gone' : 'there');
          switch (candidate.entity) {
            case 'MEMBER': {
              const found = await http.find(`/v1/b2b/organizations/${path}/member`, { member_id: candidate.externalId }, oneMember);
              return presence(found?.member == null || found.member.status === 'deleted');
            }
            case 'CONNECTION': {
              // Stytch's connection lists are not paged: read again, they are whole.
              const again = await http.get(`/v1/b2b/sso/${path}`, {}, ssoConnections);
              const ids = [...(again.saml_connections ?? []), ...(again.oidc_connections ?? [])].map((c) => c.connection_id);
              const current = (await http.get(`/v1/b2b/scim/${path}/connection`, {}, scimConnection)).connection;
              if (current && current.status !== 'deleted') ids.push(current.connection_id);
              return presence(!ids.includes(candidate.externalId));
            }
            // Stytch has no route for one SCIM group; its cursor-paged list (cursors do not skip
            // as offsets do) was read to its end, and a group can be nowhere else.
            case 'GROUP':
              return 'gone';
            case 'MEMBERSHIP':
              return 'unknown';
          }
        },
      };
    },
  };
}
