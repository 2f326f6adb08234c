/**
 * Typed errors raised by domain code. The HTTP layer renders them in the protocol's own format
 * (problem+json for the REST API); anything else is a bug and becomes a logged 500.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export class BadRequest extends AppError {
  constructor(message: string, extra?: Record<string, unknown>) {
    super(400, 'bad_request', message, extra);
  }
}

export class ValidationFailed extends AppError {
  constructor(message: string, errors: { field: string; message: string }[]) {
    super(422, 'validation_failed', message, { errors });
  }
}

export class Unauthenticated extends AppError {
  constructor(message = 'Sign in to continue.', code = 'unauthenticated') {
    super(401, code, message);
  }
}

export class Forbidden extends AppError {
  constructor(message = 'You do not have permission to do that.') {
    super(403, 'forbidden', message);
  }
}

/** Also used for resources of another tenant: their existence is not disclosed. */
export class NotFound extends AppError {
  constructor(what = 'Resource') {
    super(404, 'not_found', `${what} not found.`);
  }
}

export class Conflict extends AppError {
  constructor(message: string, code = 'conflict') {
    super(409, code, message);
  }
}

export class TooManyRequests extends AppError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, 'rate_limited', message, { retryAfter: retryAfterSeconds });
  }
}

/**
 * A validation answer's detail, readable on its own: the part of the request and its first fault
 * ("The body is invalid: title must have visible text and no control characters."); `errors` lists
 * them all, by field.
 */
export function invalidDetail(context: string, errors: { field: string; message: string }[]): string {
  const [first] = errors;
  if (!first) return `The ${context} is invalid.`;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return `The ${context} is invalid: ${first.field ? `${first.field} ` : ''}${first.message}${more}.`;
}
