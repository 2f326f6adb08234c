import { invalidPath } from './errors.js';

/**
 * The resource schemas Keydesk serves (RFC 7643 §4 and §8.7.1), in one place: the Schemas endpoint
 * publishes them, and filters, PATCH paths, `attributes` and body checks resolve names through them,
 * case-insensitively, as RFC 7643 §2.1 asks.
 */
export type AttrType = 'string' | 'boolean' | 'complex' | 'dateTime' | 'reference' | 'integer' | 'decimal' | 'binary';

export interface Attr {
  name: string;
  type: AttrType;
  multiValued?: boolean;
  required?: boolean;
  caseExact?: boolean;
  mutability?: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned?: 'always' | 'never' | 'default' | 'request';
  uniqueness?: 'none' | 'server' | 'global';
  referenceTypes?: string[];
  canonicalValues?: string[];
  description?: string;
  subAttributes?: Attr[];
}

export interface Schema {
  id: string;
  name: string;
  description: string;
  attributes: Attr[];
}

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

const s = (name: string, extra: Partial<Attr> = {}): Attr => ({ name, type: 'string', ...extra });
const multi = (name: string, sub: Attr[], extra: Partial<Attr> = {}): Attr => ({ name, type: 'complex', multiValued: true, subAttributes: sub, ...extra });
const typedValues = (valueType: AttrType = 'string'): Attr[] => [
  { name: 'value', type: valueType },
  s('display'),
  s('type'),
  { name: 'primary', type: 'boolean' },
];

const ID: Attr = s('id', { mutability: 'readOnly', returned: 'always', uniqueness: 'server', caseExact: true });
const EXTERNAL_ID: Attr = s('externalId', { caseExact: true });
export const META: Attr = {
  name: 'meta',
  type: 'complex',
  mutability: 'readOnly',
  subAttributes: [s('resourceType', { mutability: 'readOnly' }), { name: 'created', type: 'dateTime', mutability: 'readOnly' }, { name: 'lastModified', type: 'dateTime', mutability: 'readOnly' }, { name: 'location', type: 'reference', mutability: 'readOnly' }],
};

export const userSchema: Schema = {
  id: USER_SCHEMA,
  name: 'User',
  description: 'User Account',
  attributes: [
    s('userName', { required: true, uniqueness: 'server', description: 'Unique identifier for the User, typically the user principal name.' }),
    {
      name: 'name',
      type: 'complex',
      subAttributes: [s('formatted'), s('familyName'), s('givenName'), s('middleName'), s('honorificPrefix'), s('honorificSuffix')],
    },
    s('displayName'),
    s('nickName'),
    s('profileUrl', { type: 'reference', referenceTypes: ['external'] }),
    s('title'),
    s('userType'),
    s('preferredLanguage'),
    s('locale'),
    s('timezone'),
    { name: 'active', type: 'boolean', description: 'false disables the account and ends its sessions and API tokens at once.' },
    s('password', { mutability: 'writeOnly', returned: 'never', description: 'Accepted and discarded: Keydesk users sign in through single sign-on.' }),
    multi('emails', typedValues(), { description: 'The primary (else the work, else the first) email is the Keydesk account email.' }),
    multi('phoneNumbers', typedValues()),
    multi('ims', typedValues()),
    multi('photos', typedValues('reference')),
    multi('addresses', [s('formatted'), s('streetAddress'), s('locality'), s('region'), s('postalCode'), s('country'), s('type'), { name: 'primary', type: 'boolean' }]),
    multi('groups', [s('value', { mutability: 'readOnly' }), s('$ref', { type: 'reference', mutability: 'readOnly' }), s('display', { mutability: 'readOnly' }), s('type', { mutability: 'readOnly' })], { mutability: 'readOnly' }),
    multi('entitlements', typedValues()),
    multi('roles', typedValues()),
    multi('x509Certificates', typedValues('binary')),
  ],
};

export const enterpriseSchema: Schema = {
  id: ENTERPRISE_SCHEMA,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    s('employeeNumber'),
    s('costCenter'),
    s('organization'),
    s('division'),
    s('department'),
    {
      name: 'manager',
      type: 'complex',
      description: 'The manager, as the identity provider sent it (Entra sends their SCIM id), as a plain string or as {"value": …}; kept as sent.',
      subAttributes: [s('value', { caseExact: true }), s('$ref', { type: 'reference' }), s('displayName', { mutability: 'readOnly' })],
    },
  ],
};

export const groupSchema: Schema = {
  id: GROUP_SCHEMA,
  name: 'Group',
  description: 'Group',
  attributes: [
    s('displayName', { required: true, uniqueness: 'server' }),
    multi('members', [s('value', { mutability: 'immutable', caseExact: true }), s('$ref', { type: 'reference', mutability: 'immutable' }), s('display', { mutability: 'readOnly' }), s('type', { mutability: 'immutable', canonicalValues: ['User'] })]),
  ],
};

/** What a resource type is made of: its core schema, extensions, and the attributes every resource has. */
export interface ResourceKind {
  name: 'User' | 'Group';
  endpoint: string;
  core: Schema;
  extensions: Schema[];
}

export const USER: ResourceKind = { name: 'User', endpoint: '/Users', core: userSchema, extensions: [enterpriseSchema] };
export const GROUP: ResourceKind = { name: 'Group', endpoint: '/Groups', core: groupSchema, extensions: [] };

/** A resolved attribute path: where it lives in the JSON representation and what it is. */
export interface ResolvedAttr {
  /** Extension URN the attribute sits under, or null for core and common attributes. */
  urn: string | null;
  attr: Attr;
  sub: Attr | null;
}

const COMMON: Attr[] = [ID, EXTERNAL_ID, META];

function findAttr(list: Attr[], name: string): Attr | undefined {
  const lower = name.toLowerCase();
  return list.find((a) => a.name.toLowerCase() === lower);
}

/**
 * Resolves `name`, `name.sub`, `urn:…:User:name.sub` or an extension's `urn:…:manager` to its
 * definition. Unknown names are an invalidPath error: Keydesk refuses what it would otherwise drop.
 */
export function resolveAttr(kind: ResourceKind, path: string, make = invalidPath): ResolvedAttr {
  let rest = path;
  let schema: Schema | null = null;
  for (const candidate of [kind.core, ...kind.extensions]) {
    if (rest.toLowerCase().startsWith(candidate.id.toLowerCase() + ':')) {
      schema = candidate;
      rest = rest.slice(candidate.id.length + 1);
      break;
    }
  }
  const [head, sub, ...more] = rest.split('.');
  if (!head || more.length) throw make(`Unknown attribute "${path}".`);
  const pool = schema ? (schema === kind.core ? [...COMMON, ...schema.attributes] : schema.attributes) : [...COMMON, ...kind.core.attributes];
  let attr = findAttr(pool, head);
  if (!attr && !schema) {
    // An extension attribute by its short name (`department`, as Microsoft's tutorial sends it):
    // unambiguous here, since no core attribute shares an enterprise attribute's name.
    schema = kind.extensions.find((e) => findAttr(e.attributes, head)) ?? null;
    attr = schema ? findAttr(schema.attributes, head) : undefined;
  }
  if (!attr) throw make(`Unknown attribute "${path}" for ${kind.name}.`);
  const urn = schema && schema !== kind.core ? schema.id : null;
  if (sub === undefined) return { urn, attr, sub: null };
  const subAttr = attr.subAttributes ? findAttr(attr.subAttributes, sub) : undefined;
  if (!subAttr) throw make(`Unknown sub-attribute "${path}" for ${kind.name}.`);
  return { urn, attr, sub: subAttr };
}

/** The schema a path-less name belongs to when it is an extension URN itself (a PATCH value key). */
export function extensionByUrn(kind: ResourceKind, key: string): Schema | undefined {
  return kind.extensions.find((e) => e.id.toLowerCase() === key.toLowerCase());
}

/** The Schemas endpoint's view of a schema (RFC 7643 §7), with the defaults spelled out. */
export function publishSchema(schema: Schema, location: string): Record<string, unknown> {
  const full = (a: Attr): Record<string, unknown> => ({
    name: a.name,
    type: a.type,
    multiValued: a.multiValued ?? false,
    description: a.description ?? '',
    required: a.required ?? false,
    caseExact: a.caseExact ?? false,
    mutability: a.mutability ?? 'readWrite',
    returned: a.returned ?? 'default',
    uniqueness: a.uniqueness ?? 'none',
    ...(a.referenceTypes ? { referenceTypes: a.referenceTypes } : {}),
    ...(a.canonicalValues ? { canonicalValues: a.canonicalValues } : {}),
    ...(a.subAttributes ? { subAttributes: a.subAttributes.map(full) } : {}),
  });
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id: schema.id,
    name: schema.name,
    description: schema.description,
    attributes: schema.attributes.map(full),
    meta: { resourceType: 'Schema', location },
  };
}
