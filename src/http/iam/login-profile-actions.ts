/**
 * IAM's console-password actions (Create/Get/Update/DeleteLoginProfile, ChangePassword) and
 * ListPolicies (the managed policies Berth knows), so `aws iam` and the web console manage them.
 * The rules live in auth/login-profiles.ts.
 */
import { createHash } from 'node:crypto';
import { IamCodes } from '../../core/errors.js';
import type { LoginProfile, LoginProfiles } from '../../auth/login-profiles.js';
import { MANAGED_POLICIES } from '../../iam/managed.js';
import type { QueryAction, QueryCall } from './actions.js';
import { QueryError, required, type XmlValue } from './query.js';

function profilesOf(call: QueryCall): LoginProfiles {
  const p = call.identities.loginProfiles;
  if (!p) throw new QueryError(IamCodes.ServiceFailure, 'console passwords are not available on this server');
  return p;
}

/** `true`/`false` as the Query protocol writes booleans; undefined when absent. */
function flag(form: URLSearchParams, name: string): boolean | undefined {
  const v = form.get(name);
  if (v === null) return undefined;
  if (v !== 'true' && v !== 'false') throw new QueryError(IamCodes.Validation, `${name} must be true or false.`);
  return v === 'true';
}

function profileXml(p: LoginProfile): XmlValue {
  return { LoginProfile: { UserName: p.userName, CreateDate: p.createDate, PasswordResetRequired: p.passwordResetRequired } };
}

/** The same id for a policy every time (IAM's ids are ANPA + 17 characters). */
function policyId(arn: string): string {
  return 'ANPA' + createHash('sha256').update(arn).digest('hex').toUpperCase().slice(0, 17);
}

export const loginProfileActions: Record<string, QueryAction> = {
  async CreateLoginProfile(call) {
    const f = call.form;
    const p = await profilesOf(call).create(call.accountId, required(f, 'UserName'), required(f, 'Password'), flag(f, 'PasswordResetRequired') ?? false);
    return profileXml(p);
  },
  async GetLoginProfile(call) {
    const name = call.form.get('UserName') ?? call.callerUserName;
    if (name === undefined) throw new QueryError(IamCodes.NoSuchEntity, 'The root user has no login profile here.');
    return profileXml(await profilesOf(call).get(call.accountId, name));
  },
  async UpdateLoginProfile(call) {
    const f = call.form;
    const password = f.get('Password');
    const reset = flag(f, 'PasswordResetRequired');
    await profilesOf(call).update(call.accountId, required(f, 'UserName'), {
      ...(password !== null && { password }),
      ...(reset !== undefined && { passwordResetRequired: reset }),
    });
    return undefined;
  },
  async DeleteLoginProfile(call) {
    await profilesOf(call).delete(call.accountId, required(call.form, 'UserName'));
    return undefined;
  },
  async ChangePassword(call) {
    const user = call.principal.kind === 'user' ? call.principal.userName : undefined;
    if (user === undefined) throw new QueryError(IamCodes.InvalidUserType, 'Only IAM users can change their own password.');
    await profilesOf(call).change(call.accountId, user, required(call.form, 'OldPassword'), required(call.form, 'NewPassword'));
    return undefined;
  },
  async ListPolicies(call) {
    // Berth keeps AWS's managed policies only: none is local to an account. Scope is one of the model's (input.ts).
    const scope = call.form.get('Scope') ?? 'All';
    const arns = scope === 'Local' ? [] : Object.keys(MANAGED_POLICIES);
    return {
      Policies: arns.map((arn) => ({
        PolicyName: arn.slice(arn.lastIndexOf('/') + 1),
        PolicyId: policyId(arn),
        Arn: arn,
        Path: '/',
        DefaultVersionId: 'v1',
        IsAttachable: true,
        CreateDate: new Date(0),
        UpdateDate: new Date(0),
      })),
      IsTruncated: false,
    };
  },
};
