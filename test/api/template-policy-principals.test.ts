/**
 * A repository created from a creation template gets the template's repository policy as a
 * repository policy like any other: the users and roles it names are bound to their unique ids
 * when the repository is born (the template keeps text, as ECR's does). So a user deleted and
 * made again after that is not the one the policy grants to, and an ARN that names nobody then
 * grants nobody, whoever takes the name later (what it refuses: template-policy-fail-closed).
 * Before, such a policy matched by the ARN's text.
 * Real SDK clients and /v2 (the push that creates the repository, the pulls), on SQLite and
 * PostgreSQL.
 */
import { CreateRepositoryCreationTemplateCommand, type ECRClient, GetRepositoryPolicyCommand } from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { onEachStore } from './helpers/each-store.js';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createUser, deleteUser, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { access, LOGIN_ONLY, pushCreating } from './helpers/iam-access.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const PULL = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'];
const userArn = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;
const granting = (...users: string[]) =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'pull', Effect: 'Allow', Principal: { AWS: users.map(userArn) }, Action: PULL }] });
const canPull = { pull: true, v2pull: 200 };
const cannotPull = { pull: false, v2pull: 403 };

await onEachStore(templateSuite);

function templateSuite(name: string, store: () => Promise<Record<string, string>>, skip: string | false): void {
  describe(`a repository created from a template binds the users its policy names (${name})`, { skip }, () => {
    let berth: BerthInProcess;
    let iam: IAMClient;
    let admin: ECRClient;
    const pulls = async (u: TestIdentity, repo: string) => {
      const { pull, v2pull } = await access(u, repo);
      return { pull, v2pull };
    };
    before(async () => {
      const env = await store();
      berth = await startInProcess({ onDisk: Object.keys(env).length > 0, env });
      iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
      admin = ecrClient(berth);
    });
    after(async () => {
      await berth?.cleanup();
    });

    it('a user deleted and made again after the repository was created from the template is not granted', async () => {
      const t = await createUser(berth, iam, 't', [], LOGIN_ONLY);
      const text = granting('t');
      await admin.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'tpl', appliedFor: ['CREATE_ON_PUSH'], repositoryPolicy: text }));
      await pushCreating(berth.url, 'tpl/app');
      assert.equal((await admin.send(new GetRepositoryPolicyCommand({ repositoryName: 'tpl/app' }))).policyText, text, 'the template policy, as given');
      assert.deepEqual(await pulls(t, 'tpl/app'), canPull, 'the user the policy named when the repository was born');
      await deleteUser(iam, 't', t);
      const newT = await createUser(berth, iam, 't', [], LOGIN_ONLY);
      assert.deepEqual(await pulls(newT, 'tpl/app'), cannotPull, 'another user under the same name');
    });

    it('binds when the repository is created, not when the template is put: a name with nobody then names nobody', async () => {
      await admin.send(
        new CreateRepositoryCreationTemplateCommand({ prefix: 'later', appliedFor: ['CREATE_ON_PUSH'], repositoryPolicy: granting('early', 'late') }),
      );
      // Made after the template was put, before the repository: the policy names it.
      const early = await createUser(berth, iam, 'early', [], LOGIN_ONLY);
      await pushCreating(berth.url, 'later/app');
      assert.deepEqual(await pulls(early, 'later/app'), canPull);
      // Made after the repository: the ARN named nobody when the policy was bound, and still does.
      const late = await createUser(berth, iam, 'late', [], LOGIN_ONLY);
      assert.deepEqual(await pulls(late, 'later/app'), cannotPull);
    });
  });
}
