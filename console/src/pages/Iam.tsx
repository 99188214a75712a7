/** IAM for administrators: users, their access keys, attached managed policies and console passwords. */
import { type FormEvent, useState } from 'react';
import { ApiError, iam } from '../api';
import { ConfirmButton, CopyBlock, ErrorMessage, Loading } from '../components/common';
import { when } from '../format';
import { onSuccess, useAction, useLoad } from '../hooks';
import { useCan } from '../session';

interface User {
  UserName: string;
  Arn: string;
  CreateDate?: string;
}
interface AccessKey {
  AccessKeyId: string;
  Status: string;
  CreateDate?: string;
}
interface AttachedPolicy {
  PolicyName: string;
  PolicyArn: string;
}

const CHECKS = [
  { action: 'iam:ListUsers' },
  { action: 'iam:CreateUser' },
  { action: 'iam:DeleteUser' },
  { action: 'iam:CreateAccessKey' },
  { action: 'iam:UpdateAccessKey' },
  { action: 'iam:DeleteAccessKey' },
  { action: 'iam:AttachUserPolicy' },
  { action: 'iam:DetachUserPolicy' },
  { action: 'iam:CreateLoginProfile' },
  { action: 'iam:DeleteLoginProfile' },
];

export function IamPage() {
  const can = useCan(CHECKS);
  const users = useLoad(() => iam<{ Users?: User[] }>('ListUsers').then((r) => r.Users ?? []), 'users');
  const [open, setOpen] = useState<string>();
  const create = useAction();
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const userName = String(new FormData(form).get('userName') ?? '').trim();
    void create
      .run(() => iam('CreateUser', { UserName: userName }))
      .then((ok) => {
        if (ok) {
          form.reset();
          users.reload();
          setOpen(userName);
        }
      });
  };
  return (
    <>
      <h1>IAM users</h1>
      <ErrorMessage error={users.error} />
      {can('iam:CreateUser') && (
        <form className="toolbar" onSubmit={submit}>
          <label>
            New user name
            <input name="userName" required pattern="[\w+=,.@\-]{1,64}" spellCheck={false} />
          </label>
          <button type="submit" disabled={create.busy}>
            Create user
          </button>
          <ErrorMessage error={create.error} />
        </form>
      )}
      {users.loading && !users.data ? (
        <Loading what="users" />
      ) : (
        <ul className="users">
          {(users.data ?? []).map((u) => (
            <li key={u.Arn} className="card">
              <button
                type="button"
                className="link"
                aria-expanded={open === u.UserName}
                onClick={() => setOpen((o) => (o === u.UserName ? undefined : u.UserName))}
              >
                {u.UserName}
              </button>{' '}
              <span className="muted small">created {when(u.CreateDate)}</span>
              {open === u.UserName && <UserDetail user={u} can={can} onDeleted={users.reload} />}
            </li>
          ))}
          {users.data?.length === 0 && <li className="muted">No IAM users in this account.</li>}
        </ul>
      )}
    </>
  );
}

function UserDetail({ user, can, onDeleted }: { user: User; can(action: string): boolean; onDeleted(): void }) {
  const u = user.UserName;
  const keys = useLoad(() => iam<{ AccessKeyMetadata?: AccessKey[] }>('ListAccessKeys', { UserName: u }).then((r) => r.AccessKeyMetadata ?? []), u);
  const attached = useLoad(
    () => iam<{ AttachedPolicies?: AttachedPolicy[] }>('ListAttachedUserPolicies', { UserName: u }).then((r) => r.AttachedPolicies ?? []),
    u,
  );
  const managed = useLoad(() => iam<{ Policies?: { PolicyName: string; Arn: string }[] }>('ListPolicies').then((r) => r.Policies ?? []), 'policies');
  const profile = useLoad(
    () =>
      iam('GetLoginProfile', { UserName: u }).then(
        () => true,
        (err: unknown) => {
          if (err instanceof ApiError && err.type === 'NoSuchEntity') return false;
          throw err;
        },
      ),
    u,
  );
  const act = useAction();
  const [secret, setSecret] = useState<string>();
  const [attach, setAttach] = useState('');
  const [password, setPassword] = useState('');

  const after = onSuccess;
  return (
    <div className="detail">
      <p className="mono small">{user.Arn}</p>
      <ErrorMessage error={act.error ?? keys.error ?? attached.error} />
      <h3>Access keys</h3>
      <ul>
        {(keys.data ?? []).map((k) => (
          <li key={k.AccessKeyId}>
            <span className="mono">{k.AccessKeyId}</span> {k.Status} <span className="muted small">{when(k.CreateDate)}</span>{' '}
            {can('iam:UpdateAccessKey') && (
              <button
                type="button"
                onClick={() =>
                  void act
                    .run(() => iam('UpdateAccessKey', { UserName: u, AccessKeyId: k.AccessKeyId, Status: k.Status === 'Active' ? 'Inactive' : 'Active' }))
                    .then(after(keys.reload))
                }
              >
                {k.Status === 'Active' ? 'Deactivate' : 'Activate'} {k.AccessKeyId}
              </button>
            )}{' '}
            {can('iam:DeleteAccessKey') && (
              <ConfirmButton
                label={`Delete key ${k.AccessKeyId}`}
                title={`Delete access key ${k.AccessKeyId}?`}
                confirmLabel="Delete"
                onConfirm={() => act.run(() => iam('DeleteAccessKey', { UserName: u, AccessKeyId: k.AccessKeyId })).then(after(keys.reload))}
              >
                <p>Clients using it are refused from then on.</p>
              </ConfirmButton>
            )}
          </li>
        ))}
      </ul>
      {can('iam:CreateAccessKey') && (
        <button
          type="button"
          onClick={() =>
            void act
              .run(async () => {
                const r = await iam<{ AccessKey: { AccessKeyId: string; SecretAccessKey: string } }>('CreateAccessKey', { UserName: u });
                setSecret(`AWS_ACCESS_KEY_ID=${r.AccessKey.AccessKeyId}\nAWS_SECRET_ACCESS_KEY=${r.AccessKey.SecretAccessKey}`);
              })
              .then(after(keys.reload))
          }
        >
          Create access key
        </button>
      )}
      {secret && (
        <div role="status">
          <p>The secret is shown this once: copy it now.</p>
          <CopyBlock label="New access key" text={secret} />
        </div>
      )}
      <h3>Attached managed policies</h3>
      <ul>
        {(attached.data ?? []).map((p) => (
          <li key={p.PolicyArn}>
            {p.PolicyName}{' '}
            {can('iam:DetachUserPolicy') && (
              <button
                type="button"
                onClick={() => void act.run(() => iam('DetachUserPolicy', { UserName: u, PolicyArn: p.PolicyArn })).then(after(attached.reload))}
              >
                Detach {p.PolicyName}
              </button>
            )}
          </li>
        ))}
        {attached.data?.length === 0 && <li className="muted">none</li>}
      </ul>
      {can('iam:AttachUserPolicy') && (
        <div className="toolbar">
          <label>
            Managed policy
            <select value={attach} onChange={(e) => setAttach(e.target.value)}>
              <option value="">Choose…</option>
              {(managed.data ?? []).map((p) => (
                <option key={p.Arn} value={p.Arn}>
                  {p.PolicyName}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            disabled={!attach}
            onClick={() => void act.run(() => iam('AttachUserPolicy', { UserName: u, PolicyArn: attach })).then(after(attached.reload))}
          >
            Attach policy
          </button>
        </div>
      )}
      <h3>Console password</h3>
      <p>{profile.data === undefined ? '…' : profile.data ? 'This user may sign in with a password.' : 'No console password.'}</p>
      {profile.data === false && can('iam:CreateLoginProfile') && (
        <div className="toolbar">
          <label>
            New console password
            <input type="password" autoComplete="new-password" value={password} minLength={8} onChange={(e) => setPassword(e.target.value)} />
          </label>
          <button
            type="button"
            disabled={password.length < 8}
            onClick={() =>
              void act
                .run(() => iam('CreateLoginProfile', { UserName: u, Password: password, PasswordResetRequired: 'true' }))
                .then((ok) => {
                  if (ok) setPassword('');
                  return after(profile.reload)(ok);
                })
            }
          >
            Set password (must change at first sign-in)
          </button>
        </div>
      )}
      {profile.data && can('iam:DeleteLoginProfile') && (
        <button type="button" onClick={() => void act.run(() => iam('DeleteLoginProfile', { UserName: u })).then(after(profile.reload))}>
          Remove console password
        </button>
      )}
      {can('iam:DeleteUser') && (
        <div className="actions">
          <ConfirmButton
            label={`Delete user ${u}`}
            title={`Delete user ${u}?`}
            confirmLabel="Delete"
            onConfirm={() => act.run(() => iam('DeleteUser', { UserName: u })).then(after(onDeleted))}
          >
            <p>IAM refuses while the user still has access keys, policies or a password: remove them first.</p>
            <ErrorMessage error={act.error} />
          </ConfirmButton>
        </div>
      )}
    </div>
  );
}
