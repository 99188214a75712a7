/**
 * Refusals around the features that move images between repositories and accounts (the
 * pull-through cache, replication, creation templates), where one party's permission is easy to
 * take for another's: a call is authorized on the registry it acts on, never on one a stray
 * member names. Driven with the ECR SDK and raw SigV4-signed JSON (for bodies an SDK command
 * would not send). Sources: notes/2026-12-07-s33-movement.md.
 */
import { CreatePullThroughCacheRuleCommand, DeletePullThroughCacheRuleCommand, DescribePullThroughCacheRulesCommand, type ECRClient, PutRegistryPolicyCommand } from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createAccount, createUser, otherAccountIdentity, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { allowing } from './helpers/iam-access.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { ECR_TARGET, signedFetch } from './helpers/signed-json.js';

const ACCOUNT = '000000000000';
/** An account the tested user's account does not control: its root writes its own registry policy. */
const THEIRS = '333333333333';

describe('movement features: who is authorized, on which registry', () => {
  let berth: BerthInProcess;
  let admin: ECRClient;
  let iam: IAMClient;
  let dev: TestIdentity;
  let theirs: TestIdentity;

  const ruleNames = async () => ((await admin.send(new DescribePullThroughCacheRulesCommand({}))).pullThroughCacheRules ?? []).map((r) => r.ecrRepositoryPrefix);

  before(async () => {
    berth = await startInProcess({ onDisk: true });
    admin = ecrClient(berth);
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    // dev may use ECR in general; this registry's own policy is the guardrail that says what not.
    dev = await createUser(berth, iam, 'dev', [], [JSON.parse(allowing(['ecr:*']))]);
    await admin.send(
      new PutRegistryPolicyCommand({
        policyText: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'NoCacheRulesByDev',
              Effect: 'Deny',
              Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/dev` },
              Action: ['ecr:CreatePullThroughCacheRule', 'ecr:DeletePullThroughCacheRule', 'ecr:UpdatePullThroughCacheRule'],
              Resource: '*',
            },
          ],
        }),
      }),
    );
    // Another account whose root welcomes dev to anything in its own registry.
    await createAccount(berth, THEIRS);
    theirs = await otherAccountIdentity(berth, THEIRS);
    await theirs.ecr.send(
      new PutRegistryPolicyCommand({
        policyText: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/dev` }, Action: 'ecr:*', Resource: '*' }],
        }),
      }),
    );
  });

  after(async () => {
    await berth?.cleanup();
  });

  it("authorizes a pull-through rule change on the registry it changes, not on another account a stray 'resourceArn' names", async () => {
    const create = (extra: Record<string, unknown>) =>
      signedFetch(berth, dev.keys, {
        target: `${ECR_TARGET}CreatePullThroughCacheRule`,
        body: { ecrRepositoryPrefix: 'sneaky', upstreamRegistryUrl: 'http://127.0.0.1:9', ...extra },
      });
    const plain = await create({});
    assert.equal(plain.status, 400);
    assert.equal(plain.json.__type, 'AccessDeniedException', 'the registry policy denies dev');
    // The same call naming the other account's repository in a member CreatePullThroughCacheRule
    // does not have: the rule would still be made here, so it must be judged here.
    const redirected = await create({ resourceArn: `arn:aws:ecr:${berth.region}:${THEIRS}:repository/anything` });
    assert.equal(redirected.status, 400, JSON.stringify(redirected.json));
    assert.equal(redirected.json.__type, 'AccessDeniedException', 'judged by this registry, whose policy denies it');
    assert.deepEqual(await ruleNames(), [], 'no rule was made');
    // And the member is no part of the operation: refused as any other action refuses one.
    const stray = await signedFetch(berth, adminCredentials(berth), {
      target: `${ECR_TARGET}CreatePullThroughCacheRule`,
      body: { ecrRepositoryPrefix: 'stray', upstreamRegistryUrl: 'http://127.0.0.1:9', resourceArn: `arn:aws:ecr:${berth.region}:${ACCOUNT}:repository/x` },
    });
    assert.equal(stray.status, 400);
    assert.match(String(stray.json.__type), /ValidationException|SerializationException/);
    assert.deepEqual(await ruleNames(), [], 'nor by the admin with a stray member');
  });

  it("judges a pull-through import with the request's aws:UserAgent, as every other check of the pull", async () => {
    const agent = await createUser(berth, iam, 'agent-limited', [], [
      JSON.parse(allowing(['ecr:*'])),
      {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Deny', Action: ['ecr:BatchImportUpstreamImage', 'ecr:CreateRepository'], Resource: '*', Condition: { StringLike: { 'aws:UserAgent': 'blocked-agent/*' } } },
        ],
      },
    ]);
    // An upstream nobody answers at: the import is judged before anything goes upstream.
    await admin.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'cache', upstreamRegistryUrl: 'http://127.0.0.1:9' }));
    try {
      const pull = (userAgent: string) =>
        agent.v2('/v2/cache/library/app/manifests/v1', { headers: { 'user-agent': userAgent, accept: 'application/vnd.oci.image.manifest.v1+json' } });
      const blocked = await pull('blocked-agent/1.0');
      assert.equal(blocked.status, 403, 'the Deny on this User-Agent holds');
      assert.match(blocked.body.toString('utf8'), /DENIED/);
      const other = await pull('skopeo/1.13');
      assert.notEqual(other.status, 403, 'another User-Agent is let through to the (absent) upstream');
    } finally {
      await admin.send(new DeletePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'cache' }));
    }
  });
});
