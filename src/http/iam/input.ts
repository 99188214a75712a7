/**
 * IAM's and STS's models' constraints on the input of every action Berth serves, checked before
 * the action runs or is authorized: a value outside them is a ValidationError worded as AWS
 * words it, `1 validation error detected: Value 'x' at 'userName' failed to satisfy constraint:
 * Member must ...`. Members are addressed as the Query protocol sends them (`Tags.member.1.Key`)
 * and named as AWS names them (`tags.1.member.key`). Passwords and web identity tokens are never
 * quoted back. Patterns are the models' text (Java's syntax), quoted as written. model/query.ts
 * reads the parameters as members; model/refusal.ts words the refusal, as for every other API.
 */
import { z } from 'zod';
import { IamCodes } from '../../core/errors.js';
import { integer, oneOf, patterned, list as modelList, text } from '../model/constraints.js';
import { formInput, MalformedMember, type QueryMembers } from '../model/query.js';
import { parseModel, type Path, type Wording } from '../model/refusal.js';
import { QueryError } from './query.js';

// An entry is `Member: shape`, the shape written with these (all members optional: the actions
// require what they require, in their own words).
const str = (min: number, max?: number, pattern?: string) => (pattern === undefined ? text(min, max) : patterned(min, max, pattern));
const int = integer;
const list = (item: z.ZodType | QueryMembers, min: number, max?: number) => modelList(item instanceof z.ZodType ? item : z.object(item).partial(), min, max);
const SECRETS = new WeakSet<z.ZodType>();
/** A member never quoted back in a refusal (passwords, web identity tokens). */
const secret = <T extends z.ZodType>(m: T): T => {
  SECRETS.add(m);
  return m;
};

// IAM's shapes (botocore data/iam/2010-05-08), by the model's names.
const NAME = '[\\w+=,.@-]+';
const POLICY_TEXT = '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+';
const userNameType = str(1, 64, NAME);
const existingUserNameType = str(1, 128, NAME);
const roleNameType = str(1, 64, NAME);
const groupNameType = str(1, 128, NAME);
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
const tagKeyListType = list(str(1, 128, TAG_KEY), 0, 50);
const statusType = oneOf(['Active', 'Inactive', 'Expired']);
const policyUsageType = oneOf(['PermissionsPolicy', 'PermissionsBoundary']);
const policyVersionIdType = str(0, undefined, 'v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?');

const paged = { Marker: markerType, MaxItems: maxItemsType };

export const IAM_INPUT: Record<string, QueryMembers> = {
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
  TagUser: { UserName: existingUserNameType, Tags: tagListType },
  UntagUser: { UserName: existingUserNameType, TagKeys: tagKeyListType },
  ListUserTags: { UserName: existingUserNameType, ...paged },
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
  TagRole: { RoleName: roleNameType, Tags: tagListType },
  UntagRole: { RoleName: roleNameType, TagKeys: tagKeyListType },
  ListRoleTags: { RoleName: roleNameType, ...paged },
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
    Scope: oneOf(['All', 'AWS', 'Local']),
    PathPrefix: policyPathType,
    PolicyUsageFilter: policyUsageType,
    ...paged,
  },
  CreatePolicy: {
    PolicyName: policyNameType,
    Path: policyPathType,
    PolicyDocument: policyDocumentType,
    Description: str(0, 1000),
    Tags: tagListType,
  },
  GetPolicy: { PolicyArn: arnType },
  DeletePolicy: { PolicyArn: arnType },
  CreatePolicyVersion: { PolicyArn: arnType, PolicyDocument: policyDocumentType },
  GetPolicyVersion: { PolicyArn: arnType, VersionId: policyVersionIdType },
  ListPolicyVersions: { PolicyArn: arnType, ...paged },
  DeletePolicyVersion: { PolicyArn: arnType, VersionId: policyVersionIdType },
  SetDefaultPolicyVersion: { PolicyArn: arnType, VersionId: policyVersionIdType },
  TagPolicy: { PolicyArn: arnType, Tags: tagListType },
  UntagPolicy: { PolicyArn: arnType, TagKeys: tagKeyListType },
  ListPolicyTags: { PolicyArn: arnType, ...paged },
  CreateGroup: { Path: pathType, GroupName: groupNameType },
  GetGroup: { GroupName: groupNameType, ...paged },
  ListGroups: { PathPrefix: pathPrefixType, ...paged },
  DeleteGroup: { GroupName: groupNameType },
  AddUserToGroup: { GroupName: groupNameType, UserName: existingUserNameType },
  RemoveUserFromGroup: { GroupName: groupNameType, UserName: existingUserNameType },
  ListGroupsForUser: { UserName: existingUserNameType, ...paged },
  PutGroupPolicy: { GroupName: groupNameType, PolicyName: policyNameType, PolicyDocument: policyDocumentType },
  GetGroupPolicy: { GroupName: groupNameType, PolicyName: policyNameType },
  ListGroupPolicies: { GroupName: groupNameType, ...paged },
  DeleteGroupPolicy: { GroupName: groupNameType, PolicyName: policyNameType },
  AttachGroupPolicy: { GroupName: groupNameType, PolicyArn: arnType },
  DetachGroupPolicy: { GroupName: groupNameType, PolicyArn: arnType },
  ListAttachedGroupPolicies: { GroupName: groupNameType, PathPrefix: policyPathType, ...paged },
  ListEntitiesForPolicy: {
    PolicyArn: arnType,
    EntityFilter: oneOf(['User', 'Role', 'Group', 'LocalManagedPolicy', 'AWSManagedPolicy']),
    PathPrefix: pathType,
    PolicyUsageFilter: policyUsageType,
    ...paged,
  },
};

// STS's shapes (botocore data/sts/2011-06-15).
const STS_ARN = str(20, 2048, '[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+');
const roleSessionNameType = str(2, 64, '[\\w+=,.@-]*');
const policyArns = list({ arn: STS_ARN }, 0);
const serialNumberType = str(9, 256, '[\\w+=/:,.@-]*');
const tokenCodeType = str(6, 6, '[\\d]*');

export const STS_INPUT: Record<string, QueryMembers> = {
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

const SCHEMAS = new WeakMap<QueryMembers, z.ZodType>();

/** Refuses `form` if a member is outside `rules`' constraints (actions not listed have none). */
export function checkQueryInput(rules: QueryMembers | undefined, form: URLSearchParams): void {
  if (rules === undefined) return;
  let schema = SCHEMAS.get(rules);
  if (!schema) SCHEMAS.set(rules, (schema = z.object(rules).partial()));
  // Values are quoted, but not a secret's, nor a list's (a list's length is refused unquoted).
  const wording: Wording = {
    lowerFirst: true,
    quote: (v: unknown, path: Path) => (Array.isArray(v) || SECRETS.has(rules[String(path[0])]!) ? undefined : `'${String(v)}'`),
  };
  let input: Record<string, unknown>;
  try {
    input = formInput(rules, form);
  } catch (e) {
    if (!(e instanceof MalformedMember)) throw e;
    // Quoted short: a value of any length may come, and the parameter's name says enough.
    const shown = e.value.length > 40 ? `${e.value.slice(0, 40)}...` : e.value;
    throw new QueryError(IamCodes.InvalidParameterValue, `Value '${shown}' for parameter ${e.parameter} is invalid: it must be an integer.`);
  }
  parseModel(schema, input, wording, (r) => new QueryError(IamCodes.Validation, r.kind === 'rule' ? r.why : r.message));
}
