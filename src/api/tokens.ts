import { Type } from 'typebox';
import { createApiToken, listApiTokens, revokeApiToken } from '../identity/tokens/api-tokens.js';
import { requireAuth } from '../http/auth.js';
import { errors, type RoutePlugin } from './common.js';
import { DateTime, IdParams, Nullable, Text, Uuid } from './schemas.js';

const TokenSchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  createdAt: DateTime,
  lastUsedAt: Nullable(DateTime),
  expiresAt: Nullable(DateTime),
  revokedAt: Nullable(DateTime),
});

export const tokenRoutes: RoutePlugin = async (app) => {
  app.get('/me/tokens', {
    schema: { tags: ['tokens'], summary: 'Your personal API tokens', response: { 200: Type.Object({ items: Type.Array(TokenSchema) }), ...errors } },
  }, async (request) => ({ items: await listApiTokens(requireAuth(request).ctx) }));

  app.post('/me/tokens', {
    schema: {
      tags: ['tokens'],
      summary: 'Create a personal API token; the secret is shown once',
      body: Type.Object(
        { name: Text(100), expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 730 })) },
        { additionalProperties: false },
      ),
      response: { 201: Type.Object({ token: TokenSchema, secret: Type.String() }), ...errors },
    },
  }, async (request, reply) => reply.code(201).send(await createApiToken(requireAuth(request).ctx, request.body)));

  app.delete('/me/tokens/:id', {
    schema: { tags: ['tokens'], summary: 'Revoke a personal API token', params: IdParams, response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    await revokeApiToken(requireAuth(request).ctx, request.params.id);
    return reply.code(204).send(null);
  });
};

export type ApiTokenT = import('typebox').Static<typeof TokenSchema>;
