import { Type, type Static, type TSchema, type TStringOptions, type TUnsafe } from 'typebox';
import { CONTROL_FREE_TEXT, ONE_LINE, WRITTEN_TEXT } from '../http/text.js';
import { ROLES } from '../identity/roles.js';
import { allStatuses, TICKET_TYPES } from '../itsm/lifecycle.js';
import { QUEUES, type QueueId } from '../itsm/tickets.js';

/** Shared request/response schemas: they validate input and document the API (OpenAPI 3.1). */
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
// Dates leave the database as Date objects; the serializer writes them as RFC 3339 strings.
export const DateTime = Type.Unsafe<Date>({ type: 'string', format: 'date-time' });

export const Uuid = Type.String({ format: 'uuid' });
/**
 * Text someone has to write (a title, a name, an email): at least one character that is not
 * whitespace, and no longer than its column's CHECK allows, so what the API accepts can be stored.
 * The pattern is in the schema, not in code, so OpenAPI shows the rule. (NUL and lone surrogates are
 * refused for every string by the /api/v1 hook, see src/http/text.ts.)
 */
export const Text = (maxLength: number, opts: TStringOptions = {}) => Type.String({ minLength: 1, maxLength, pattern: WRITTEN_TEXT, ...opts });
/** Text that may be empty (a description): no control characters but tab and line breaks. */
export const OptionalText = (maxLength: number, opts: TStringOptions = {}) => Type.String({ maxLength, pattern: CONTROL_FREE_TEXT, ...opts });
/** One line that may be empty (an attribute name): no control characters at all. */
export const OneLine = (maxLength: number, opts: TStringOptions = {}) => Type.String({ maxLength, pattern: ONE_LINE, ...opts });
/** A string enum as plain JSON Schema `enum` (clearer errors and OpenAPI than a union of literals). */
export const StringEnum = <T extends string>(values: readonly T[], opts: object = {}): TUnsafe<T> => Type.Unsafe<T>({ type: 'string', enum: [...values], ...opts });
export const RoleSchema = StringEnum(ROLES);
export const TicketTypeSchema = StringEnum(TICKET_TYPES);
export const StatusSchema = StringEnum(allStatuses());
const Level = Type.Integer({ minimum: 1, maximum: 3, description: '1 high, 2 medium, 3 low' });

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
    retryAfter: Type.Optional(Type.Integer()),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details' },
);

const PersonRef = Type.Object({ id: Uuid, displayName: Type.String(), email: Type.String() });

export const TicketSchema = Type.Object(
  {
    id: Uuid,
    ref: Type.String({ examples: ['INC000123'] }),
    type: TicketTypeSchema,
    number: Type.Integer(),
    title: Type.String(),
    description: Type.String(),
    status: Type.String(),
    impact: Type.Integer(),
    urgency: Type.Integer(),
    priority: Type.Integer({ minimum: 1, maximum: 5 }),
    category: Nullable(Type.String()),
    categoryId: Nullable(Type.String({ format: 'uuid', description: 'The request category it was raised in (GET /request-categories)' })),
    requester: PersonRef,
    assignee: Nullable(PersonRef),
    // Who must approve it before fulfilment: the requester's manager, when raised in a category that needs it.
    approver: Nullable(PersonRef),
    team: Nullable(Type.Object({ id: Uuid, name: Type.String() })),
    createdAt: DateTime,
    updatedAt: DateTime,
    resolvedAt: Nullable(DateTime),
    closedAt: Nullable(DateTime),
    resolution: Nullable(Type.String({ description: 'How it was resolved or fulfilled' })),
    sla: Type.Object({
      responseDueAt: Nullable(DateTime),
      resolutionDueAt: Nullable(DateTime),
      firstResponseAt: Nullable(DateTime),
      paused: Type.Boolean(),
      responseBreached: Type.Boolean(),
      resolutionBreached: Type.Boolean(),
    }),
    allowedTransitions: Type.Array(Type.String(), { description: 'Statuses the caller may move the ticket to now' }),
    canApprove: Type.Boolean(),
  },
  { $id: 'Ticket' },
);

// A description may be empty (that is its default); a category is text or null, never "" or "  ".
const Category = Text(100, { description: 'null for none' });

export const NewTicketBody = Type.Object(
  {
    type: TicketTypeSchema,
    title: Text(200),
    description: Type.Optional(OptionalText(20000)),
    impact: Type.Optional(Level),
    urgency: Type.Optional(Level),
    category: Type.Optional(Nullable(Category)),
    categoryId: Type.Optional(
      Nullable(Type.String({ format: 'uuid', description: "A request category (requests only): sets the category's name and team, and may send the request to the requester's manager for approval first" })),
    ),
    requesterId: Type.Optional(Uuid),
    assigneeId: Type.Optional(Nullable(Uuid)),
    teamId: Type.Optional(Nullable(Uuid)),
  },
  { additionalProperties: false },
);

export const TicketPatchBody = Type.Object(
  {
    title: Type.Optional(Text(200)),
    description: Type.Optional(OptionalText(20000)),
    impact: Type.Optional(Level),
    urgency: Type.Optional(Level),
    category: Type.Optional(Nullable(Category)),
    assigneeId: Type.Optional(Nullable(Uuid)),
    teamId: Type.Optional(Nullable(Uuid)),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const TicketQuery = Type.Object(
  {
    type: Type.Optional(TicketTypeSchema),
    status: Type.Optional(Type.Array(StatusSchema, { maxItems: 10 })),
    open: Type.Optional(Type.Boolean()),
    assignee: Type.Optional(Type.String({ maxLength: 36, description: 'user id, `me` or `none`' })),
    team: Type.Optional(Type.String({ maxLength: 36, description: 'team id or `mine`' })),
    requester: Type.Optional(Type.String({ maxLength: 36, description: 'user id or `me`' })),
    approver: Type.Optional(Type.String({ maxLength: 36, description: 'user id or `me`: requests waiting for (or decided by) this manager' })),
    priority: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 5 }), { maxItems: 5 })),
    breached: Type.Optional(Type.Boolean()),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    queue: Type.Optional(StringEnum(Object.keys(QUEUES) as QueueId[], { description: 'A workspace queue; the other filters narrow it' })),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 25 }),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const CommentSchema = Type.Object(
  {
    id: Uuid,
    body: Type.String(),
    visibility: StringEnum(['public', 'internal'] as const),
    author: PersonRef,
    createdAt: DateTime,
  },
  { $id: 'Comment' },
);

export const NewCommentBody = Type.Object(
  {
    body: Text(20000),
    visibility: StringEnum(['public', 'internal'] as const, { default: 'public' }),
  },
  { additionalProperties: false },
);

export const EventSchema = Type.Object({
  id: Type.Integer(),
  kind: Type.String(),
  data: Type.Record(Type.String(), Type.Unknown()),
  actor: Nullable(Type.Object({ id: Uuid, displayName: Type.String() })),
  createdAt: DateTime,
});

export const ApprovalSchema = Type.Object({
  id: Uuid,
  decision: StringEnum(['approved', 'rejected'] as const),
  comment: Type.String(),
  approver: Type.Object({ id: Uuid, displayName: Type.String() }),
  decidedAt: DateTime,
});

export const UserSchema = Type.Object(
  {
    id: Uuid,
    email: Type.String(),
    displayName: Type.String(),
    status: StringEnum(['active', 'waiting', 'disabled'] as const),
    source: StringEnum(['local', 'jit', 'scim'] as const),
    breakGlass: Type.Boolean(),
    totpEnabled: Type.Boolean(),
    roles: Type.Array(RoleSchema),
    createdAt: DateTime,
  },
  { $id: 'User' },
);

export const GrantSchema = Type.Object({
  role: RoleSchema,
  origin: StringEnum(['person', 'rule', 'system'] as const),
  grantedBy: Nullable(Uuid),
  ruleId: Nullable(Uuid),
  groupRef: Nullable(Type.String()),
});

export const IdentitySchema = Type.Object(
  {
    connection: Type.String({ description: 'Connection slug' }),
    connectionName: Type.String(),
    protocol: Type.String(),
    subject: Type.String({ description: "The identity provider's stable subject (Entra object id, else NameID)" }),
    createdAt: DateTime,
    lastSigninAt: Nullable(DateTime),
  },
  { $id: 'SigninIdentity' },
);

export const TeamSchema = Type.Object(
  { id: Uuid, name: Type.String(), members: Type.Array(PersonRef) },
  { $id: 'Team' },
);

export const RequestCategorySchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    description: Type.String(),
    team: Nullable(Type.Object({ id: Uuid, name: Type.String() }, { description: 'The team that fulfils it' })),
    requiresManagerApproval: Type.Boolean({ description: "Requests wait for the requester's manager (from SCIM's enterprise extension) before fulfilment" }),
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  { $id: 'RequestCategory' },
);

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const Page = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item), nextCursor: Nullable(Type.String()) });

export type NewTicketBodyT = Static<typeof NewTicketBody>;
