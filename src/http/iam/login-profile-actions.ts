/**
 * IAM's console-password actions (Create/Get/Update/DeleteLoginProfile, ChangePassword), so
 * `aws iam` and the web console manage them.
 * The rules live in auth/login-profiles.ts.
 */
import { IamCodes } from '../../core/errors.js';
import { IdentityError } from '../../auth/identity-admin.js';
import type { LoginProfile, LoginProfiles } from '../../auth/login-profiles.js';
import { passwordIdentity } from '../../auth/sign-in-throttle.js';
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
    // OldPassword is a password check like sign-in's: counted in the user's sign-in bucket, or it would be a free oracle.
    const who = passwordIdentity(call.accountId, user);
    if (call.passwordGuesses?.identityRetryAfter(who) !== undefined) throw new QueryError(IamCodes.Throttling, 'Too many wrong passwords: try again later.');
    try {
      await profilesOf(call).change(call.accountId, user, required(call.form, 'OldPassword'), required(call.form, 'NewPassword'));
    } catch (e) {
      if (e instanceof IdentityError && e.code === IamCodes.AccessDenied) call.passwordGuesses?.identityFailed(who);
      throw e;
    }
    return undefined;
  },
};
