import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { AppError, invalidDetail, TooManyRequests } from './errors.js';
import { CONTROL_FREE_TEXT, ONE_LINE, WRITTEN_TEXT, WRITTEN_TEXT_MESSAGE } from './text.js';

/** The text rules' patterns, said in words instead of as a regular expression. */
const PATTERN_MESSAGES: Record<string, string> = {
  [WRITTEN_TEXT]: WRITTEN_TEXT_MESSAGE,
  [CONTROL_FREE_TEXT]: 'must not contain control characters',
  [ONE_LINE]: 'must be one line without control characters',
};

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [k: string]: unknown;
}

export function problem(status: number, code: string, detail: string, extra: Record<string, unknown> = {}): Problem {
  return { type: `urn:keydesk:problem:${code}`, title: TITLES[status] ?? 'Error', status, detail, code, ...extra };
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type(PROBLEM_CONTENT_TYPE).send(p);
}

/** Maps every error to RFC 9457 problem+json. Client errors are never logged as server faults. */
export function installProblemHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
    if (err instanceof AppError) {
      if (err instanceof TooManyRequests) reply.header('Retry-After', String(err.retryAfterSeconds));
      return sendProblem(reply, problem(err.status, err.code, err.message, err.extra));
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      const errors = fe.validation.map((v) => ({
        field: (v.instancePath || '').replace(/^\//, '').replace(/\//g, '.') || String(v.params?.missingProperty ?? v.params?.additionalProperty ?? ''),
        message: v.keyword === 'pattern' ? (PATTERN_MESSAGES[v.params?.pattern as string] ?? v.message ?? 'is invalid') : (v.message ?? 'is invalid'),
      }));
      return sendProblem(reply, problem(400, 'invalid_request', invalidDetail(fe.validationContext ?? 'request', errors), { errors }));
    }
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      const code = (fe.code ?? 'bad_request').toLowerCase().replace(/^fst_err_/, '');
      return sendProblem(reply, problem(fe.statusCode, code, fe.message));
    }
    request.log.error({ err }, 'unhandled error');
    return sendProblem(reply, problem(500, 'internal_error', 'Something went wrong on our side. The error has been logged.'));
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problem(404, 'not_found', `No route for ${request.method} ${request.url.split('?')[0]}.`)),
  );
}
