import { MAX_PAGE } from './resources.js';
import { MAX_OPERATIONS } from './patch.js';
import { enterpriseSchema, groupSchema, publishSchema, userSchema, ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, type Schema } from './schema.js';
import type { Doc } from './values.js';

/** The body limit for SCIM requests, published in ServiceProviderConfig. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * ServiceProviderConfig (RFC 7643 §5) says exactly what Keydesk does: PATCH and filtering yes;
 * bulk, sorting, ETags and password changes no. Clients plan their requests by it.
 */
export function serviceProviderConfig(base: string): Doc {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_PAGE },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: `A secret token from Keydesk's Provisioning page, or an access token from ${base.replace(/\/scim\/v2$/, '/oauth/token')} (client credentials).`,
        specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
    'urn:keydesk:scim:limits': { maxOperations: MAX_OPERATIONS, maxPayloadSize: MAX_BODY_BYTES },
  };
}

export function resourceTypes(base: string): Doc[] {
  return [
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'User Account',
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_SCHEMA, required: false }],
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` },
    },
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'Group',
      schema: GROUP_SCHEMA,
      schemaExtensions: [],
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/Group` },
    },
  ];
}

const SCHEMAS: Schema[] = [userSchema, enterpriseSchema, groupSchema];

export function schemas(base: string): Doc[] {
  return SCHEMAS.map((s) => publishSchema(s, `${base}/Schemas/${s.id}`) as Doc);
}
