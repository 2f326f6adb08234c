import { Type, type Static } from 'typebox';
import { requireAuth, requireRole } from '../http/auth.js';
import { listTasks, setTaskDone } from '../itsm/tasks.js';
import { createRule, deleteRule, enableTemplate, getRule, listRules, TEMPLATES, updateRule, WORKFLOW_TRIGGERS, type NewWorkflowRule } from '../workflows/rules.js';
import { listRuns } from '../workflows/runs.js';
import { errors, type RoutePlugin } from './common.js';
import { DateTime, IdParams, Nullable, OneLine, OptionalText, StringEnum, Text, Uuid } from './schemas.js';

const Conditions = Type.Object(
  {
    group: Type.Optional(Text(256)),
    department: Type.Optional(Text(256)),
    connection: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })),
    source: Type.Optional(StringEnum(['scim', 'jit', 'local'] as const)),
  },
  { additionalProperties: false },
);

const Action = Type.Union([
  Type.Object(
    {
      type: Type.Literal('ticket'),
      title: Text(200),
      description: OptionalText(5000),
      category: Type.Optional(Nullable(OneLine(100))),
      teamId: Type.Optional(Nullable(Uuid)),
      checklist: Type.Array(Text(200), { maxItems: 50 }),
    },
    { additionalProperties: false },
  ),
  Type.Object({ type: Type.Literal('notify_manager') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('webhook'), endpointId: Uuid }, { additionalProperties: false }),
]);

const RuleSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    template: Nullable(StringEnum(['onboarding', 'offboarding'] as const)),
    trigger: StringEnum(WORKFLOW_TRIGGERS),
    conditions: Conditions,
    actions: Type.Array(Action),
    enabled: Type.Boolean(),
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  { $id: 'WorkflowRule' },
);

const RuleBody = Type.Object(
  {
    name: Text(100),
    trigger: StringEnum(WORKFLOW_TRIGGERS),
    conditions: Type.Optional(Conditions),
    actions: Type.Array(Action, { minItems: 1, maxItems: 10 }),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const RunSchema = Type.Object({
  ruleId: Type.String(),
  ruleName: Type.String(),
  eventId: Type.String(),
  eventType: Type.String(),
  person: Nullable(Type.String()),
  outcome: StringEnum(['done', 'skipped'] as const),
  note: Nullable(Type.String()),
  ticket: Nullable(Type.Object({ id: Type.String(), ref: Type.String() })),
  createdAt: DateTime,
});

const TaskSchema = Type.Object({
  id: Type.String(),
  position: Type.Integer(),
  title: Type.String(),
  doneAt: Nullable(DateTime),
  doneBy: Nullable(Type.Object({ id: Type.String(), displayName: Type.String() })),
});

/** `/workflows` (admins): identity events turned into service-desk work; and ticket checklists. */
export const workflowRoutes: RoutePlugin = async (app) => {
  const tags = ['workflows'];
  const admin = (request: Parameters<typeof requireAuth>[0]) => {
    const { ctx } = requireAuth(request);
    requireRole(ctx, 'admin');
    return ctx;
  };

  app.get('/workflows', {
    schema: {
      tags,
      summary: 'Workflow rules, and the ready-made templates (admins)',
      response: { 200: Type.Object({ items: Type.Array(RuleSchema), templates: Type.Array(Type.Object({ template: Type.String(), name: Type.String(), trigger: Type.String(), actions: Type.Array(Action) })) }), ...errors },
    },
  }, async (request) => ({
    items: await listRules(admin(request)),
    templates: Object.entries(TEMPLATES).map(([template, t]) => ({ template, name: t.name, trigger: t.trigger, actions: t.actions })),
  }));

  app.post('/workflows', {
    schema: { tags, summary: 'Add a workflow rule', body: RuleBody, response: { 201: RuleSchema, ...errors } },
  }, async (request, reply) => reply.code(201).send(await createRule(admin(request), request.body as NewWorkflowRule)));

  app.post('/workflows/templates/:template/enable', {
    schema: {
      tags,
      summary: 'Turn on the onboarding or offboarding workflow, optionally routed to a team (name or id)',
      params: Type.Object({ template: StringEnum(['onboarding', 'offboarding'] as const) }),
      body: Type.Object({ team: Type.Optional(Text(100)) }, { additionalProperties: false }),
      response: { 200: RuleSchema, ...errors },
    },
  }, async (request) => enableTemplate(admin(request), request.params.template, request.body));

  app.get('/workflows/runs', {
    schema: {
      tags,
      summary: 'What the workflows did lately, newest first',
      querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(RunSchema) }), ...errors },
    },
  }, async (request) => ({ items: await listRuns(admin(request), request.query.limit) }));

  app.get('/workflows/:id', {
    schema: { tags, summary: 'One workflow rule', params: IdParams, response: { 200: RuleSchema, ...errors } },
  }, async (request) => getRule(admin(request), request.params.id));

  app.patch('/workflows/:id', {
    schema: { tags, summary: 'Change a workflow rule, or turn it on or off', params: IdParams, body: Type.Partial(RuleBody, { additionalProperties: false, minProperties: 1 }), response: { 200: RuleSchema, ...errors } },
  }, async (request) => updateRule(admin(request), request.params.id, request.body as Partial<NewWorkflowRule>));

  app.delete('/workflows/:id', {
    schema: { tags, summary: 'Remove a workflow rule', params: IdParams, response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    await deleteRule(admin(request), request.params.id);
    return reply.code(204).send(null);
  });

  app.get('/tickets/:id/tasks', {
    schema: { tags: ['tickets'], summary: 'A ticket’s checklist', params: IdParams, response: { 200: Type.Object({ items: Type.Array(TaskSchema) }), ...errors } },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    return { items: await listTasks(ctx, request.params.id) };
  });

  app.patch('/tickets/:id/tasks/:taskId', {
    schema: {
      tags: ['tickets'],
      summary: 'Tick a checklist task off (done: true) or back on (agents)',
      params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), taskId: Type.String({ minLength: 1, maxLength: 64 }) }),
      body: Type.Object({ done: Type.Boolean() }, { additionalProperties: false }),
      response: { 200: TaskSchema, ...errors },
    },
  }, async (request) => {
    const { ctx } = requireAuth(request);
    return setTaskDone(ctx, request.params.id, request.params.taskId, request.body.done);
  });
};

export type WorkflowRuleBody = Static<typeof RuleBody>;

export type WorkflowConditionsT = Static<typeof Conditions>;
export type WorkflowActionT = Static<typeof Action>;
export type WorkflowRuleT = Static<typeof RuleSchema>;
export type WorkflowRuleBodyT = Static<typeof RuleBody>;
export type WorkflowRunT = Static<typeof RunSchema>;
export type TicketTaskT = Static<typeof TaskSchema>;
