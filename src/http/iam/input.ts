/**
 * IAM's and STS's models' constraints on the input of every action Berth serves, checked before
 * the action runs or is authorized: a value outside them is a ValidationError worded as AWS
 * words it, `1 validation error detected: Value 'x' at 'userName' failed to satisfy constraint:
 * Member must ...`. Members are addressed as the Query protocol sends them (`Tags.member.1.Key`)
 * and named as AWS names them (`tags.1.member.key`). Passwords and web identity tokens are never
 * quoted back. Patterns are the models' text (Java's syntax), quoted as written.
 */
import { IamCodes } from '../../core/errors.js';
import { lowerFirst, modelRegExp } from '../json-input.js';
import { QueryError } from './query.js';

type Member =
  | { kind: 'string'; min: number; max?: number; pattern?: string; re?: RegExp; secret?: true }
  | { kind: 'integer'; min: number; max: number }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'list'; min: number; max?: number; item: Member | Record<string, Member> };

const str = (min: number, max?: number, pattern?: string): Member => ({
  kind: 'string',
  min,
  ...(max !== undefined && { max }),
  ...(pattern !== undefined && { pattern, re: modelRegExp(pattern) }),
});
const int = (min: number, max: number): Member => ({ kind: 'integer', min, max });
const list = (item: Member | Record<string, Member>, min: number, max?: number): Member => ({ kind: 'list', min, ...(max !== undefined && { max }), item });
const secret = (m: Member): Member => ({ ...m, secret: true }) as Member;

// IAM's shapes (botocore data/iam/2010-05-08), by the model's names.
const NAME = '[\\w+=,.@-]+';
const POLICY_TEXT = '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+';
const userNameType = str(1, 64, NAME);
const existingUserNameType = str(1, 128, NAME);
const roleNameType = str(1, 64, NAME);
const policyNameType = str(1, 128, NAME);
const policyDocumentType = str(1, 131072, POLICY_TEXT);
const arnType = str(20, 2048);
const pathType = str(1, 512, '(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)');
const pathPrefixType = str(1, 512, '\\u002F[\\u0021-\\u007F]*');
const policyPathType = str(1, 512, '((/[A-Za-z0-9\\.,\\+@=_-]+)*)/');
const markerType = str(1, 320, '[\\u0020-\\u00FF]+');
const maxItemsType = int(1, 1000);
const accessKeyIdType = str(16, 128, '[\\w]+');
const passwordType = secret(str(1, 128, POLICY_TEXT));
const roleDescriptionType = str(0, 1000, '[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*');
const roleMaxSessionDurationType = int(3600, 43200);
const TAG_KEY = '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+';
const TAG_VALUE = '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*';
const tagListType = list({ Key: str(1, 128, TAG_KEY), Value: str(0, 256, TAG_VALUE) }, 0, 50);
const statusType: Member = { kind: 'enum', values: ['Active', 'Inactive', 'Expired'] };

const paged = { Marker: markerType, MaxItems: maxItemsType };

export const IAM_INPUT: Record<string, Record<string, Member>> = {
  CreateUser: { Path: pathType, UserName: userNameType, PermissionsBoundary: arnType, Tags: tagListType },
  GetUser: { UserName: existingUserNameType },
  ListUsers: { PathPrefix: pathPrefixType, ...paged },
  DeleteUser: { UserName: existingUserNameType },
  CreateAccessKey: { UserName: existingUserNameType },
  ListAccessKeys: { UserName: existingUserNameType, ...paged },
  DeleteAccessKey: { UserName: existingUserNameType, AccessKeyId: accessKeyIdType },
  UpdateAccessKey: { UserName: existingUserNameType, AccessKeyId: accessKeyIdType, Status: statusType },
  PutUserPolicy: { UserName: existingUserNameType, PolicyName: policyNameType, PolicyDocument: policyDocumentType },
  GetUserPolicy: { UserName: existingUserNameType, PolicyName: policyNameType },
  ListUserPolicies: { UserName: existingUserNameType, ...paged },
  DeleteUserPolicy: { UserName: existingUserNameType, PolicyName: policyNameType },
  AttachUserPolicy: { UserName: userNameType, PolicyArn: arnType },
  DetachUserPolicy: { UserName: userNameType, PolicyArn: arnType },
  ListAttachedUserPolicies: { UserName: userNameType, PathPrefix: policyPathType, ...paged },
  CreateRole: {
    Path: pathType,
    RoleName: roleNameType,
    AssumeRolePolicyDocument: policyDocumentType,
    Description: roleDescriptionType,
    MaxSessionDuration: roleMaxSessionDurationType,
    PermissionsBoundary: arnType,
    Tags: tagListType,
  },
  GetRole: { RoleName: roleNameType },
  ListRoles: { PathPrefix: pathPrefixType, ...paged },
  UpdateRole: { RoleName: roleNameType, Description: roleDescriptionType, MaxSessionDuration: roleMaxSessionDurationType },
  UpdateAssumeRolePolicy: { RoleName: roleNameType, PolicyDocument: policyDocumentType },
  DeleteRole: { RoleName: roleNameType },
  PutRolePolicy: { RoleName: roleNameType, PolicyName: policyNameType, PolicyDocument: policyDocumentType },
  GetRolePolicy: { RoleName: roleNameType, PolicyName: policyNameType },
  ListRolePolicies: { RoleName: roleNameType, ...paged },
  DeleteRolePolicy: { RoleName: roleNameType, PolicyName: policyNameType },
  AttachRolePolicy: { RoleName: roleNameType, PolicyArn: arnType },
  DetachRolePolicy: { RoleName: roleNameType, PolicyArn: arnType },
  ListAttachedRolePolicies: { RoleName: roleNameType, PathPrefix: policyPathType, ...paged },
  PutUserPermissionsBoundary: { UserName: userNameType, PermissionsBoundary: arnType },
  DeleteUserPermissionsBoundary: { UserName: userNameType },
  PutRolePermissionsBoundary: { RoleName: roleNameType, PermissionsBoundary: arnType },
  DeleteRolePermissionsBoundary: { RoleName: roleNameType },
  CreateOpenIDConnectProvider: {
    Url: str(1, 255),
    ClientIDList: list(str(1, 255), 0),
    ThumbprintList: list(str(40, 40), 0),
    Tags: tagListType,
  },
  GetOpenIDConnectProvider: { OpenIDConnectProviderArn: arnType },
  DeleteOpenIDConnectProvider: { OpenIDConnectProviderArn: arnType },
  CreateLoginProfile: { UserName: userNameType, Password: passwordType },
  GetLoginProfile: { UserName: userNameType },
  UpdateLoginProfile: { UserName: userNameType, Password: passwordType },
  DeleteLoginProfile: { UserName: userNameType },
  ChangePassword: { OldPassword: passwordType, NewPassword: passwordType },
  ListPolicies: {
    Scope: { kind: 'enum', values: ['All', 'AWS', 'Local'] },
    PathPrefix: policyPathType,
    PolicyUsageFilter: { kind: 'enum', values: ['PermissionsPolicy', 'PermissionsBoundary'] },
    ...paged,
  },
};

// STS's shapes (botocore data/sts/2011-06-15).
const STS_ARN = str(20, 2048, '[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+');
const roleSessionNameType = str(2, 64, '[\\w+=,.@-]*');
const policyArns = list({ arn: STS_ARN }, 0);
const serialNumberType = str(9, 256, '[\\w+=/:,.@-]*');
const tokenCodeType = str(6, 6, '[\\d]*');

export const STS_INPUT: Record<string, Record<string, Member>> = {
  GetCallerIdentity: {},
  AssumeRole: {
    RoleArn: STS_ARN,
    RoleSessionName: roleSessionNameType,
    PolicyArns: policyArns,
    Policy: str(1, undefined, POLICY_TEXT),
    DurationSeconds: int(900, 43200),
    Tags: tagListType,
    TransitiveTagKeys: list(str(1, 128, TAG_KEY), 0, 50),
    ExternalId: str(2, 1224, '[\\w+=,.@:\\/-]*'),
    SerialNumber: serialNumberType,
    TokenCode: tokenCodeType,
    SourceIdentity: str(2, 64, '[\\w+=,.@-]*'),
    ProvidedContexts: list({ ProviderArn: STS_ARN, ContextAssertion: str(4, 2048) }, 1, 5),
  },
  AssumeRoleWithWebIdentity: {
    RoleArn: STS_ARN,
    RoleSessionName: roleSessionNameType,
    WebIdentityToken: secret(str(4, 20000)),
    ProviderId: str(4, 2048),
    PolicyArns: policyArns,
    Policy: str(1, 2048, POLICY_TEXT),
    DurationSeconds: int(900, 43200),
  },
  GetSessionToken: { DurationSeconds: int(900, 129600), SerialNumber: serialNumberType, TokenCode: tokenCodeType },
};

/** Refuses `form` with the first member outside `action`'s constraints (actions not listed have none). */
export function checkQueryInput(rules: Record<string, Member> | undefined, form: URLSearchParams): void {
  for (const [name, member] of Object.entries(rules ?? {})) check(form, name, lowerFirst(name), member);
}

function check(form: URLSearchParams, key: string, field: string, m: Member): void {
  if (m.kind === 'list') {
    checkList(form, key, field, m);
    return;
  }
  const v = form.get(key);
  if (v === null) return;
  const refuse = (constraint: string) => {
    const value = m.kind === 'string' && m.secret ? '' : ` '${v}'`;
    throw new QueryError(
      IamCodes.Validation,
      `1 validation error detected: Value${value} at '${field}' failed to satisfy constraint: Member must ${constraint}`,
    );
  };
  if (m.kind === 'enum') {
    if (!m.values.includes(v)) refuse(`satisfy enum value set: [${m.values.join(', ')}]`);
  } else if (m.kind === 'integer') {
    // A value that is no integer is the action's to refuse, in its own words.
    if (!/^-?\d{1,15}$/.test(v)) return;
    if (Number(v) < m.min) refuse(`have value greater than or equal to ${m.min}`);
    if (Number(v) > m.max) refuse(`have value less than or equal to ${m.max}`);
  } else {
    if (v.length < m.min) refuse(`have length greater than or equal to ${m.min}`);
    if (m.max !== undefined && v.length > m.max) refuse(`have length less than or equal to ${m.max}`);
    if (m.re && m.pattern && !m.re.test(v)) refuse(`satisfy regular expression pattern: ${m.pattern}`);
  }
}

function checkList(form: URLSearchParams, key: string, field: string, m: Extract<Member, { kind: 'list' }>): void {
  const fields = 'kind' in m.item ? undefined : (m.item as Record<string, Member>);
  const present = (i: number) => (fields ? Object.keys(fields).some((f) => form.has(`${key}.member.${i}.${f}`)) : form.has(`${key}.member.${i}`));
  let n = 0;
  while (n < 10_000 && present(n + 1)) n++;
  // `Name=` with no value is an empty list, as botocore sends one.
  if (n === 0 && !form.has(key)) return;
  const refuse = (constraint: string) => {
    throw new QueryError(IamCodes.Validation, `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must ${constraint}`);
  };
  if (n < m.min) refuse(`have length greater than or equal to ${m.min}`);
  if (m.max !== undefined && n > m.max) refuse(`have length less than or equal to ${m.max}`);
  for (let i = 1; i <= n; i++) {
    if (!fields) check(form, `${key}.member.${i}`, `${field}.${i}.member`, m.item as Member);
    else for (const [f, fm] of Object.entries(fields)) check(form, `${key}.member.${i}.${f}`, `${field}.${i}.member.${lowerFirst(f)}`, fm);
  }
}
