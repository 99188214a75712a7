/**
 * IAM's customer managed policy actions (`aws iam create-policy`, `create-policy-version`,
 * Terraform's aws_iam_policy): thin renderings of auth/customer-policies.ts's rules. GetPolicy
 * also answers for the AWS managed policies Berth keeps, as ListPolicies lists them.
 */
import { createHash } from 'node:crypto';
import { customerPolicyArn, type CustomerPolicies } from '../../auth/customer-policies.js';
import { IamCodes } from '../../core/errors.js';
import { managedPolicy } from '../../iam/managed.js';
import type { CustomerPolicyRecord, PolicyVersionRecord } from '../../metadata/customer-policies.js';
import type { QueryAction, QueryCall } from './actions.js';
import { QueryError, required, requiredList, type XmlValue } from './query.js';
import { page, pageOf } from './paging.js';
import { members, tagMembers } from './role-actions.js';

interface Usage {
  attachments: number;
  boundaries: number;
}

/** A customer policy as IAM answers it; its description and tags only where GetPolicy and CreatePolicy give them (not ListPolicies). */
export function customerPolicyXml(p: CustomerPolicyRecord, used: Usage, full: boolean): XmlValue {
  return {
    PolicyName: p.name,
    PolicyId: p.policyId,
    Arn: customerPolicyArn(p),
    Path: p.path,
    DefaultVersionId: `v${p.defaultVersion}`,
    AttachmentCount: used.attachments,
    PermissionsBoundaryUsageCount: used.boundaries,
    IsAttachable: true,
    ...(full && p.description !== '' && { Description: p.description }),
    CreateDate: p.createdAt,
    UpdateDate: p.updatedAt,
    ...(full && p.tags.length > 0 && { Tags: p.tags }),
  };
}

function versionXml(v: PolicyVersionRecord, defaultVersion: number, withDocument: boolean): XmlValue {
  return {
    // URL-encoded, as IAM returns policy documents (the CLI and SDK users decode them).
    ...(withDocument && { Document: encodeURIComponent(v.document) }),
    VersionId: `v${v.version}`,
    IsDefaultVersion: v.version === defaultVersion,
    CreateDate: v.createdAt,
  };
}

export function customerPoliciesOf(call: QueryCall): CustomerPolicies {
  if (!call.identities.policies) throw new QueryError(IamCodes.ServiceFailure, 'customer managed policies are not available on this server');
  return call.identities.policies;
}

/** `true`/`false` (absent: false), as the Query protocol sends a boolean. */
function flag(form: URLSearchParams, name: string): boolean {
  const v = form.get(name);
  if (v === null || v === 'false') return false;
  if (v === 'true') return true;
  throw new QueryError(IamCodes.Validation, `The value for ${name} must be true or false.`);
}

export const customerPolicyActions: Record<string, QueryAction> = {
  async CreatePolicy(call) {
    const document = required(call.form, 'PolicyDocument');
    call.checkPolicy(document);
    const description = call.form.get('Description');
    const p = await customerPoliciesOf(call).create(call.accountId, {
      name: required(call.form, 'PolicyName'),
      path: call.form.get('Path') ?? '/',
      ...(description !== null && { description }),
      document,
      tags: tagMembers(call.form),
    });
    return { Policy: customerPolicyXml(p, { attachments: 0, boundaries: 0 }, true) };
  },
  async GetPolicy(call) {
    const arn = required(call.form, 'PolicyArn');
    const policies = customerPoliciesOf(call);
    if (managedPolicy(arn) !== undefined) return { Policy: awsPolicyXml(arn, await policies.usage(call.accountId, arn)) };
    const p = await policies.get(call.accountId, arn);
    return { Policy: customerPolicyXml(p, await policies.usage(call.accountId, arn), true) };
  },
  async DeletePolicy(call) {
    await customerPoliciesOf(call).delete(call.accountId, required(call.form, 'PolicyArn'));
    return undefined;
  },
  async CreatePolicyVersion(call) {
    const document = required(call.form, 'PolicyDocument');
    call.checkPolicy(document);
    const arn = required(call.form, 'PolicyArn');
    const v = await customerPoliciesOf(call).createVersion(call.accountId, arn, document, flag(call.form, 'SetAsDefault'));
    return { PolicyVersion: versionXml(v, v.isDefault ? v.version : 0, false) };
  },
  async GetPolicyVersion(call) {
    const { policy, version } = await customerPoliciesOf(call).version(call.accountId, required(call.form, 'PolicyArn'), required(call.form, 'VersionId'));
    return { PolicyVersion: versionXml(version, policy.defaultVersion, true) };
  },
  async ListPolicyVersions(call) {
    const { policy, versions } = await customerPoliciesOf(call).versions(call.accountId, required(call.form, 'PolicyArn'));
    // Newest first.
    return pageOf(call.form, 'Versions', [...versions].reverse(), (v) => versionXml(v, policy.defaultVersion, false));
  },
  async DeletePolicyVersion(call) {
    await customerPoliciesOf(call).deleteVersion(call.accountId, required(call.form, 'PolicyArn'), required(call.form, 'VersionId'));
    return undefined;
  },
  async SetDefaultPolicyVersion(call) {
    await customerPoliciesOf(call).setDefaultVersion(call.accountId, required(call.form, 'PolicyArn'), required(call.form, 'VersionId'));
    return undefined;
  },
  async TagPolicy(call) {
    await customerPoliciesOf(call).tag(call.accountId, required(call.form, 'PolicyArn'), tagMembers(requiredList(call.form, 'Tags')));
    return undefined;
  },
  async UntagPolicy(call) {
    await customerPoliciesOf(call).untag(call.accountId, required(call.form, 'PolicyArn'), members(requiredList(call.form, 'TagKeys'), 'TagKeys'));
    return undefined;
  },
  async ListPolicyTags(call) {
    const p = await customerPoliciesOf(call).get(call.accountId, required(call.form, 'PolicyArn'));
    const { items, ...more } = page(call.form, p.tags);
    return { Tags: items, ...more };
  },
};

/** One of the AWS managed policies Berth keeps, as IAM lists it (all at path '/', one version). */
export function awsPolicyXml(arn: string, used: Usage): XmlValue {
  return {
    PolicyName: arn.slice(arn.lastIndexOf('/') + 1),
    PolicyId: awsPolicyId(arn),
    Arn: arn,
    Path: '/',
    DefaultVersionId: 'v1',
    AttachmentCount: used.attachments,
    PermissionsBoundaryUsageCount: used.boundaries,
    IsAttachable: true,
    CreateDate: new Date(0),
    UpdateDate: new Date(0),
  };
}

/** The same id for an AWS managed policy every time (IAM's ids are ANPA + 17 characters). */
function awsPolicyId(arn: string): string {
  return 'ANPA' + createHash('sha256').update(arn).digest('hex').toUpperCase().slice(0, 17);
}
