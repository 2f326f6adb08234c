import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Config } from '../config.js';
import type { Db } from '../db/db.js';
import type { SecretBox } from '../identity/secrets.js';
import type { Governance } from '../governance/changes.js';
import type { TxtLookup } from '../tenancy/domains.js';

/** What route modules get from the composition root. */
export interface Deps {
  config: Config;
  db: Db;
  totpBox: SecretBox;
  /** Seals OpenID Connect client secrets and session ID tokens. */
  oidcBox: SecretBox;
  txtLookup: TxtLookup;
  /** Seals webhook signing secrets. */
  webhookBox: SecretBox;
  /** Four-eyes identity configuration: seals requested changes and applies each kind. */
  governance: Governance;
}

export type RoutePlugin = FastifyPluginAsyncTypebox<{ deps: Deps }>;

/** Standard error responses every API route documents. */
export const errors = {
  400: { $ref: 'Problem#' },
  401: { $ref: 'Problem#' },
  403: { $ref: 'Problem#' },
  404: { $ref: 'Problem#' },
  409: { $ref: 'Problem#' },
  422: { $ref: 'Problem#' },
  429: { $ref: 'Problem#' },
} as const;
