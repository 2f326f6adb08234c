import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import type { Db } from '../db/db.js';
import { recordedTransaction } from '../audit/recorded-transaction.js';
import { AppError, TooManyRequests } from '../http/errors.js';
import { hit } from '../http/rate-limit.js';
import { queryTextProblem, utf8JsonParser } from '../http/text.js';
import { activityCte, queueActivity, type ActivityRecord } from './activity.js';
import { authenticateScimBearer, type Caller } from './credentials.js';
import { MAX_BODY_BYTES, resourceTypes, schemas, serviceProviderConfig } from './discovery.js';
import { ScimError } from './errors.js';
import { createScimGroup, deleteScimGroup, getScimGroup, listScimGroups, patchScimGroup, replaceScimGroup } from './groups.js';
import { excludes, project, readProjection, type Projection } from './project.js';
import { paging, type ScimCtx } from './resources.js';
import { GROUP, LIST_SCHEMA, USER, type ResourceKind } from './schema.js';
import { createScimUser, deleteScimUser, getScimUser, listScimUsers, patchScimUser, replaceScimUser } from './users.js';
import type { Doc } from './values.js';

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';
const UNAUTHENTICATED_PER_MINUTE = 30;

interface ScimRequestState {
  tenantId: string | null;
  ctx: ScimCtx | null;
  caller: Caller | null;
  operation: string;
  resourceType: string | null;
  resourceId: string | null;
  error: string | null;
  /** The status a write route answers with when its transaction commits (set before the domain call). */
  successStatus: number | null;
  /** The activity line went in with the request's own transaction. */
  recorded: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    scim: ScimRequestState | null;
  }
}

type Query = Record<string, string | undefined>;

/**
 * The SCIM 2.0 service provider at the fixed Tenant URL /t/{tenant}/scim/v2. Routes are thin:
 * they read the request, call one domain function in users.ts or groups.ts, and present the result.
 * Every answer, errors included, is SCIM JSON; every request lands in the tenant's activity log.
 */
export async function installScimRoutes(app: FastifyInstance, db: Db, config: Config): Promise<void> {
  app.decorateRequest('scim', null);
  await app.register(
    async (scope) => {
      scope.removeContentTypeParser('application/json');
      const json = utf8JsonParser(scope, () => new ScimError(400, 'The body is not UTF-8 text.', 'invalidSyntax'));
      scope.addContentTypeParser(['application/json', 'application/scim+json'], { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, json);

      scope.setErrorHandler((err: FastifyError | Error, request, reply) => sendError(request, reply, toScimError(err, request)));


      scope.addHook('onRequest', async (request, reply) => {
        const state: ScimRequestState = {
          tenantId: null,
          ctx: null,
          caller: null,
          operation: describe(request),
          resourceType: null,
          resourceId: null,
          error: null,
          successStatus: null,
          recorded: false,
        };
        request.scim = state;
        const slug = (request.params as { tenant?: string }).tenant ?? request.url.split('/')[2] ?? '';
        const m = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
        const { tenant, caller } = await authenticateScimBearer(db, slug, m ? m[1]! : null);
        if (!tenant) throw new ScimError(404, 'There is no such tenant.');
        state.caller = caller;
        if (!state.caller) {
          // Callers without a valid token have their own budget per address, so they can neither
          // spend the tenant's (and lock Entra out) nor flood the activity log.
          await hit(db, { bucket: `scim-unauthenticated:${tenant.id}:${request.ip}`, max: UNAUTHENTICATED_PER_MINUTE, windowSeconds: 60 });
          state.tenantId = tenant.id;
          throw new ScimError(401, m ? 'The bearer token is not valid for this tenant: it is unknown, inactive, expired or was renewed.' : 'Send a bearer token in the Authorization header.');
        }
        state.tenantId = tenant.id;
        await hit(db, { bucket: `scim:${tenant.id}`, max: config.scimRequestsPerMinute, windowSeconds: 60 });
        state.ctx = { db: withActivityLine(db, request, reply), tenant, actor: null, ip: request.ip, actorLabel: `scim:${state.caller.name}`, base: `${config.publicUrl}/t/${tenant.slug}/scim/v2` };
        // After authentication, so the refusal is in the activity log; its message does not echo
        // the text, which the log could not store either.
        const bad = queryTextProblem(request);
        if (bad) throw new ScimError(400, `The query parameter "${bad.field}" ${bad.message}.`, bad.field === 'filter' ? 'invalidFilter' : 'invalidValue');
      });

      // A write that committed wrote its line with its change. Reads, refusals and failed writes
      // changed nothing: their lines are written in batches, within half a second (activity.ts).
      scope.addHook('onSend', async (request, reply, payload) => {
        const s = request.scim;
        if (!s?.tenantId || s.recorded) return payload;
        queueActivity(db, s.tenantId, activityLine(request, reply, reply.statusCode), (err) => request.log.warn({ err }, 'SCIM activity not recorded yet'));
        return payload;
      });

      const ctxOf = (request: FastifyRequest): ScimCtx => request.scim!.ctx!;
      const note = (request: FastifyRequest, resourceType: string, resourceId?: string) => {
        request.scim!.resourceType = resourceType;
        request.scim!.resourceId = resourceId ?? null;
      };

      scope.get('/ServiceProviderConfig', async (request, reply) => send(reply, 200, serviceProviderConfig(ctxOf(request).base)));
      scope.get('/ResourceTypes', async (request, reply) => send(reply, 200, list(resourceTypes(ctxOf(request).base), 1)));
      scope.get<{ Params: { id: string } }>('/ResourceTypes/:id', async (request, reply) => {
        const found = resourceTypes(ctxOf(request).base).find((r) => r.id === request.params.id);
        if (!found) throw new ScimError(404, `There is no resource type ${JSON.stringify(request.params.id.slice(0, 100))}.`);
        return send(reply, 200, found);
      });
      scope.get('/Schemas', async (request, reply) => send(reply, 200, list(schemas(ctxOf(request).base), 1)));
      scope.get<{ Params: { id: string } }>('/Schemas/:id', async (request, reply) => {
        const found = schemas(ctxOf(request).base).find((s) => s.id === request.params.id);
        if (!found) throw new ScimError(404, `There is no schema ${JSON.stringify(request.params.id.slice(0, 200))}.`);
        return send(reply, 200, found);
      });

      // Anything else under the Tenant URL is a SCIM 404, not the web app's page for /t/{tenant}/….
      scope.all('/*', async (request) => {
        throw new ScimError(404, `There is no SCIM endpoint ${request.method} ${request.url.split('?')[0]}.`);
      });

      for (const kind of [USER, GROUP]) {
        const path = kind.endpoint;
        scope.get<{ Querystring: Query }>(path, async (request, reply) => {
          note(request, kind.name);
          const q = request.query;
          const projection = readProjection(kind, q.attributes, q.excludedAttributes);
          const page = paging(q);
          if (Array.isArray(q.filter)) throw new ScimError(400, 'Send one "filter"; combine expressions with "and" or "or".', 'invalidFilter');
          const filter = typeof q.filter === 'string' && q.filter !== '' ? q.filter : undefined;
          const result =
            kind === USER
              ? await listScimUsers(ctxOf(request), { filter, ...page })
              : await listScimGroups(ctxOf(request), { filter, ...page, members: !excludes(projection, 'members') });
          return send(reply, 200, list(result.resources.map((r) => project(projection, r)), page.startIndex, result.total));
        });

        scope.post<{ Querystring: Query }>(path, async (request, reply) => {
          note(request, kind.name);
          // Read before writing: a bad `attributes` must refuse the request, not follow a done write.
          const projection = projectionOf(kind, request.query);
          request.scim!.successStatus = 201;
          const created = kind === USER ? await createScimUser(ctxOf(request), request.body) : await createScimGroup(ctxOf(request), request.body);
          note(request, kind.name, created.id as string);
          reply.header('Location', (created.meta as Doc).location as string);
          return send(reply, 201, project(projection, created));
        });

        scope.get<{ Params: { id: string }; Querystring: Query }>(`${path}/:id`, async (request, reply) => {
          note(request, kind.name, request.params.id);
          const projection = projectionOf(kind, request.query);
          const found = kind === USER ? await getScimUser(ctxOf(request), request.params.id) : await getScimGroup(ctxOf(request), request.params.id, { members: !excludes(projection, 'members') });
          return send(reply, 200, project(projection, found));
        });

        scope.put<{ Params: { id: string }; Querystring: Query }>(`${path}/:id`, async (request, reply) => {
          note(request, kind.name, request.params.id);
          const projection = projectionOf(kind, request.query);
          request.scim!.successStatus = 200;
          const replaced = kind === USER ? await replaceScimUser(ctxOf(request), request.params.id, request.body) : await replaceScimGroup(ctxOf(request), request.params.id, request.body);
          return send(reply, 200, project(projection, replaced));
        });

        scope.patch<{ Params: { id: string }; Querystring: Query }>(`${path}/:id`, async (request, reply) => {
          note(request, kind.name, request.params.id);
          const projection = projectionOf(kind, request.query);
          // Entra expects 204 from a group PATCH; a client that asks for attributes gets the group.
          const wanted = request.query.attributes !== undefined;
          request.scim!.successStatus = kind === USER || wanted ? 200 : 204;
          if (kind === USER) return send(reply, 200, project(projection, await patchScimUser(ctxOf(request), request.params.id, request.body)));
          const group = await patchScimGroup(ctxOf(request), request.params.id, request.body, wanted);
          return group ? send(reply, 200, project(projection, group)) : reply.code(204).send();
        });

        scope.delete<{ Params: { id: string } }>(`${path}/:id`, async (request, reply) => {
          note(request, kind.name, request.params.id);
          request.scim!.successStatus = 204;
          if (kind === USER) await deleteScimUser(ctxOf(request), request.params.id);
          else await deleteScimGroup(ctxOf(request), request.params.id);
          return reply.code(204).send();
        });
      }
    },
    { prefix: '/t/:tenant/scim/v2' },
  );
}

/** The request's activity line, as the admin's SCIM activity page shows it. */
function activityLine(request: FastifyRequest, reply: FastifyReply, status: number): ActivityRecord {
  const s = request.scim!;
  return {
    credentialName: s.caller?.name ?? null,
    method: request.method,
    path: request.url,
    operation: s.operation,
    resourceType: s.resourceType,
    resourceId: s.resourceId,
    status,
    durationMs: Math.round(reply.elapsedTime * 10) / 10,
    error: s.error,
  };
}

/**
 * The database as a SCIM request's domain functions see it: a write transaction holds its audit
 * lines and identity events and, when its route set `successStatus`, also writes the request's
 * activity line, all in one statement before COMMIT (src/audit/recorded-transaction.ts), so the
 * change and its records commit together. The line's duration is the time to that statement. A
 * created resource's id is the result's `id`.
 */
function withActivityLine(db: Db, request: FastifyRequest, reply: FastifyReply): Db {
  return {
    kind: db.kind,
    query: (sql, params) => db.query(sql, params),
    close: () => db.close(),
    async transaction(fn) {
      const s = request.scim!;
      let recorded = false;
      const result = await recordedTransaction(s.ctx!, db, fn, (r) => {
        if (s.successStatus === null || s.recorded) return [];
        const id = (r as { id?: unknown } | null)?.id;
        if (s.resourceId === null && typeof id === 'string') s.resourceId = id;
        recorded = true;
        return [(p) => activityCte([{ tenantId: s.tenantId!, a: activityLine(request, reply, s.successStatus!) }], p)];
      });
      s.recorded ||= recorded;
      return result;
    },
  };
}

function projectionOf(kind: ResourceKind, q: Query): Projection {
  return readProjection(kind, q.attributes, q.excludedAttributes);
}

function list(resources: Doc[], startIndex: number, total = resources.length): Doc {
  return { schemas: [LIST_SCHEMA], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources };
}

function send(reply: FastifyReply, status: number, body: Doc): FastifyReply {
  return reply.code(status).type(SCIM_CONTENT_TYPE).send(body);
}

const OPERATIONS: Record<string, string> = { GET: 'Get', POST: 'Create', PUT: 'Replace', PATCH: 'Update', DELETE: 'Delete' };

/** "Create User", "List Groups", "Get ServiceProviderConfig": what the activity log shows. */
function describe(request: FastifyRequest): string {
  const parts = request.url.split('?')[0]!.split('/').filter(Boolean).slice(4);
  const resource = parts[0] ?? '';
  const verb = OPERATIONS[request.method] ?? request.method;
  if (resource === 'Users' || resource === 'Groups') {
    const singular = resource.slice(0, -1);
    return parts.length === 1 ? (request.method === 'GET' ? `List ${resource}` : `${verb} ${singular}`) : `${verb} ${singular}`;
  }
  return `${verb} ${resource || 'endpoint'}`;
}

function toScimError(err: FastifyError | Error, request: FastifyRequest): ScimError {
  if (err instanceof ScimError) return err;
  if (err instanceof TooManyRequests) return new ScimError(429, err.message, undefined, err.retryAfterSeconds);
  if (err instanceof AppError) {
    if (err.status === 409) return new ScimError(409, err.message, 'uniqueness');
    if (err.status === 400 || err.status === 422) return new ScimError(400, err.message, 'invalidValue');
    return new ScimError(err.status, err.message);
  }
  const fe = err as FastifyError;
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (fe.statusCode === 400 && /JSON|Unexpected|prototype/i.test(fe.message))) {
    return new ScimError(400, 'The body is not valid JSON.', 'invalidSyntax');
  }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ScimError(413, `The body is larger than ${MAX_BODY_BYTES} bytes.`);
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ScimError(415, 'Send application/scim+json or application/json.');
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return new ScimError(fe.statusCode, fe.message);
  request.log.error({ err }, 'unhandled SCIM error');
  return new ScimError(500, 'Something went wrong on our side. The error has been logged.');
}

function sendError(request: FastifyRequest, reply: FastifyReply, err: ScimError): FastifyReply {
  if (request.scim) request.scim.error = err.message;
  if (err.retryAfter !== undefined) reply.header('Retry-After', String(err.retryAfter));
  if (err.status === 401) reply.header('WWW-Authenticate', 'Bearer realm="Keydesk SCIM"');
  return reply.code(err.status).type(SCIM_CONTENT_TYPE).send(err.body());
}
