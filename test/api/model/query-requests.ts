/**
 * For query-model-constraints.test.ts: one request per IAM and STS action Berth serves that
 * satisfies every constraint of the service's model and sets every constrained member (so each
 * can be broken alone), and the state a refused mutating call must leave as it was. Written as
 * objects; the suite sends them as Query forms (`Tags.member.1.Key=...`).
 */
import type { Body } from './suite.js';

const ACCOUNT = '000000000000';
const USER = 'model-user';
const ROLE = 'model-role';
const POLICY_NAME = 'model-policy';
const MANAGED = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';
const CUSTOMER = `arn:aws:iam::${ACCOUNT}:policy/model/model-managed`;
const OIDC_URL = 'https://oidc.example.com';
const OIDC_ARN = `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com`;
const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }],
});
const POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: '*' }] });
const TAGS = [{ Key: 'team', Value: 'a' }];
const KEY_ID = `AKIA${'X'.repeat(16)}`;
const PASSWORD = 'Model-passw0rd!';
const user = { UserName: USER };
const role = { RoleName: ROLE };
const paged = { Marker: 'marker', MaxItems: 10 };
const customer = { PolicyArn: CUSTOMER };
const group = { GroupName: 'model-group' };

export const IAM_BODIES: Record<string, Body> = {
  AttachRolePolicy: { ...role, PolicyArn: MANAGED },
  AttachUserPolicy: { ...user, PolicyArn: MANAGED },
  ChangePassword: { OldPassword: PASSWORD, NewPassword: `${PASSWORD}2` },
  CreateAccessKey: user,
  CreateLoginProfile: { ...user, Password: PASSWORD },
  AddUserToGroup: { ...group, ...user },
  AttachGroupPolicy: { ...group, PolicyArn: MANAGED },
  CreateGroup: { Path: '/model/', GroupName: 'model-new' },
  DeleteGroup: group,
  DeleteGroupPolicy: { ...group, PolicyName: POLICY_NAME },
  DetachGroupPolicy: { ...group, PolicyArn: MANAGED },
  GetGroup: { ...group, ...paged },
  GetGroupPolicy: { ...group, PolicyName: POLICY_NAME },
  ListAttachedGroupPolicies: { ...group, PathPrefix: '/', ...paged },
  ListGroupPolicies: { ...group, ...paged },
  ListGroups: { PathPrefix: '/', ...paged },
  ListGroupsForUser: { ...user, ...paged },
  PutGroupPolicy: { ...group, PolicyName: POLICY_NAME, PolicyDocument: POLICY },
  RemoveUserFromGroup: { ...group, ...user },
  CreatePolicy: { PolicyName: 'model-new', Path: '/model/', PolicyDocument: POLICY, Description: 'checks', Tags: TAGS },
  CreatePolicyVersion: { ...customer, PolicyDocument: POLICY },
  DeletePolicy: customer,
  DeletePolicyVersion: { ...customer, VersionId: 'v2' },
  GetPolicy: customer,
  GetPolicyVersion: { ...customer, VersionId: 'v1' },
  ListPolicyTags: { ...customer, ...paged },
  ListPolicyVersions: { ...customer, ...paged },
  SetDefaultPolicyVersion: { ...customer, VersionId: 'v2' },
  TagPolicy: { ...customer, Tags: TAGS },
  TagUser: { ...user, Tags: TAGS },
  UntagUser: { ...user, TagKeys: ['team'] },
  ListUserTags: { ...user, ...paged },
  TagRole: { ...role, Tags: TAGS },
  UntagRole: { ...role, TagKeys: ['team'] },
  ListRoleTags: { ...role, ...paged },
  UntagPolicy: { ...customer, TagKeys: ['team'] },
  CreateOpenIDConnectProvider: { Url: 'https://other.example.com', ClientIDList: ['sts.amazonaws.com'], ThumbprintList: ['0'.repeat(40)], Tags: TAGS },
  CreateRole: {
    Path: '/model/',
    RoleName: 'model-new',
    AssumeRolePolicyDocument: TRUST,
    Description: 'checks',
    MaxSessionDuration: 3600,
    PermissionsBoundary: MANAGED,
    Tags: TAGS,
  },
  CreateUser: { Path: '/model/', UserName: 'model-new', PermissionsBoundary: MANAGED, Tags: TAGS },
  DeleteAccessKey: { ...user, AccessKeyId: KEY_ID },
  DeleteLoginProfile: user,
  DeleteOpenIDConnectProvider: { OpenIDConnectProviderArn: OIDC_ARN },
  DeleteRole: role,
  DeleteRolePermissionsBoundary: role,
  DeleteRolePolicy: { ...role, PolicyName: POLICY_NAME },
  DeleteUser: user,
  DeleteUserPermissionsBoundary: user,
  DeleteUserPolicy: { ...user, PolicyName: POLICY_NAME },
  DetachRolePolicy: { ...role, PolicyArn: MANAGED },
  DetachUserPolicy: { ...user, PolicyArn: MANAGED },
  GetLoginProfile: user,
  GetOpenIDConnectProvider: { OpenIDConnectProviderArn: OIDC_ARN },
  GetRole: role,
  GetRolePolicy: { ...role, PolicyName: POLICY_NAME },
  GetUser: user,
  GetUserPolicy: { ...user, PolicyName: POLICY_NAME },
  ListAccessKeys: { ...user, ...paged },
  ListAttachedRolePolicies: { ...role, PathPrefix: '/', ...paged },
  ListAttachedUserPolicies: { ...user, PathPrefix: '/', ...paged },
  ListEntitiesForPolicy: { PolicyArn: MANAGED, EntityFilter: 'User', PathPrefix: '/', PolicyUsageFilter: 'PermissionsPolicy', ...paged },
  ListPolicies: { Scope: 'All', PathPrefix: '/', PolicyUsageFilter: 'PermissionsPolicy', ...paged },
  ListRolePolicies: { ...role, ...paged },
  ListRoles: { PathPrefix: '/', ...paged },
  ListUserPolicies: { ...user, ...paged },
  ListUsers: { PathPrefix: '/', ...paged },
  PutRolePermissionsBoundary: { ...role, PermissionsBoundary: MANAGED },
  PutRolePolicy: { ...role, PolicyName: POLICY_NAME, PolicyDocument: POLICY },
  PutUserPermissionsBoundary: { ...user, PermissionsBoundary: MANAGED },
  PutUserPolicy: { ...user, PolicyName: POLICY_NAME, PolicyDocument: POLICY },
  UpdateAccessKey: { ...user, AccessKeyId: KEY_ID, Status: 'Active' },
  UpdateAssumeRolePolicy: { ...role, PolicyDocument: TRUST },
  UpdateLoginProfile: { ...user, Password: PASSWORD },
  UpdateRole: { ...role, Description: 'checks', MaxSessionDuration: 3600 },
};

/** A user and a role with an inline and a managed policy and a permissions boundary each, a console password, an access key, an OIDC provider, a customer policy with two versions and a group the user is in, with an inline and a managed policy. */
export const IAM_SEED: ReadonlyArray<[string, Body]> = [
  ['CreatePolicy', { PolicyName: 'model-managed', Path: '/model/', PolicyDocument: POLICY, Tags: TAGS }],
  ['CreatePolicyVersion', { ...customer, PolicyDocument: POLICY }],
  ['CreateUser', { ...user, Tags: TAGS }],
  ['PutUserPolicy', { ...user, PolicyName: POLICY_NAME, PolicyDocument: POLICY }],
  ['AttachUserPolicy', { ...user, PolicyArn: MANAGED }],
  ['PutUserPermissionsBoundary', { ...user, PermissionsBoundary: MANAGED }],
  ['CreateLoginProfile', { ...user, Password: PASSWORD }],
  ['CreateAccessKey', user],
  ['CreateRole', { ...role, AssumeRolePolicyDocument: TRUST, Description: 'seeded' }],
  ['PutRolePolicy', { ...role, PolicyName: POLICY_NAME, PolicyDocument: POLICY }],
  ['AttachRolePolicy', { ...role, PolicyArn: MANAGED }],
  ['PutRolePermissionsBoundary', { ...role, PermissionsBoundary: MANAGED }],
  ['CreateOpenIDConnectProvider', { Url: OIDC_URL, ClientIDList: ['sts.amazonaws.com'], ThumbprintList: ['0'.repeat(40)] }],
  ['CreateGroup', group],
  ['AddUserToGroup', { ...group, ...user }],
  ['PutGroupPolicy', { ...group, PolicyName: POLICY_NAME, PolicyDocument: POLICY }],
  ['AttachGroupPolicy', { ...group, PolicyArn: MANAGED }],
];

export const IAM_READS: ReadonlyArray<[string, Body]> = [
  ['ListUsers', {}],
  ['ListRoles', {}],
  ['GetUser', user],
  ['GetRole', role],
  ['GetUserPolicy', { ...user, PolicyName: POLICY_NAME }],
  ['GetRolePolicy', { ...role, PolicyName: POLICY_NAME }],
  ['ListAttachedUserPolicies', user],
  ['ListAttachedRolePolicies', role],
  ['ListAccessKeys', user],
  ['GetLoginProfile', user],
  ['ListOpenIDConnectProviders', {}],
  ['GetOpenIDConnectProvider', { OpenIDConnectProviderArn: OIDC_ARN }],
  ['GetPolicy', customer],
  ['ListPolicyVersions', customer],
  ['ListPolicyTags', customer],
  ['ListUserTags', user],
  ['ListRoleTags', role],
  ['GetGroup', group],
  ['ListGroupsForUser', user],
  ['ListGroupPolicies', group],
  ['ListAttachedGroupPolicies', group],
];

export const IAM_MUTATING = /^(?:Create|Delete|Put|Attach|Detach|Update|Change|Tag|Untag|Set|Add|Remove)/;

const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/${ROLE}`;
const MFA = `arn:aws:iam::${ACCOUNT}:mfa/${USER}`;

export const STS_BODIES: Record<string, Body> = {
  AssumeRole: {
    RoleArn: ROLE_ARN,
    RoleSessionName: 'session',
    PolicyArns: [{ arn: MANAGED }],
    Policy: POLICY,
    DurationSeconds: 900,
    Tags: TAGS,
    TransitiveTagKeys: ['team'],
    ExternalId: 'external-id',
    SerialNumber: MFA,
    TokenCode: '123456',
    SourceIdentity: 'source',
    ProvidedContexts: [{ ProviderArn: 'arn:aws:iam::aws:contextProvider/IdentityCenter', ContextAssertion: 'assertion' }],
  },
  AssumeRoleWithWebIdentity: {
    RoleArn: ROLE_ARN,
    RoleSessionName: 'session',
    WebIdentityToken: 'header.payload.signature',
    ProviderId: 'www.amazon.com',
    PolicyArns: [{ arn: MANAGED }],
    Policy: POLICY,
    DurationSeconds: 900,
  },
  GetSessionToken: { DurationSeconds: 900, SerialNumber: MFA, TokenCode: '123456' },
};
