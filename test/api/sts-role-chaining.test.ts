/**
 * What a role session passes along a role chain, as STS does: its source identity (set once,
 * with sts:SetSourceIdentity in the trust policy; aws:SourceIdentity on every request after, and
 * not changeable by a chained AssumeRole) and its transitive session tags (inherited by the next
 * session, which may not set them again). Each refusal here was an allow before: the request's
 * SourceIdentity and TransitiveTagKeys were taken and dropped. Real SDK clients, app in process.
 */
import { CreateRepositoryCommand, DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { AttachRolePolicyCommand, CreateOpenIDConnectProviderCommand, CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, type AssumeRoleCommandInput, STSClient } from '@aws-sdk/client-sts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials } from '../e2e/helpers/ecr-client.js';
import { createUser, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { startIssuer, type TestIssuer } from '../e2e/helpers/oidc-issuer.js';
import { refusal } from '../e2e/helpers/refusal.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { sessionKeys, type Credentials } from './helpers/temporary-credentials.js';

const ACCOUNT = '000000000000';
const FULL = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess';
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const trust = (actions: string[], condition?: object) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: actions, ...(condition && { Condition: condition }) }],
});
const denyCreateWhen = (condition: object) => ({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'sts:*', Resource: '*' },
    { Effect: 'Deny', Action: 'ecr:CreateRepository', Resource: '*', Condition: condition },
  ],
});

describe('role chaining: source identity and transitive session tags', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  let runner: TestIdentity;

  const ecrAs = (c: Credentials) => new ECRClient({ endpoint: berth.url, region: berth.region, credentials: c, maxAttempts: 1 });
  const assume = async (who: Credentials, role: string, extra: Partial<AssumeRoleCommandInput> = {}) =>
    new STSClient({ endpoint: berth.url, region: berth.region, credentials: who, maxAttempts: 1 }).send(
      new AssumeRoleCommand({ RoleArn: roleArn(role), RoleSessionName: 'chain', ...extra }),
    );
  const createRole = async (name: string, trustDoc: object, deny?: object) => {
    await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trustDoc) }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn: FULL }));
    // Every role may assume roles (a trust naming the account leaves that to the caller's policies).
    const own = deny ?? { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:*', Resource: '*' }] };
    await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'own', PolicyDocument: JSON.stringify(own) }));
  };
  let n = 0;
  const creates = (c: Credentials) => ecrAs(c).send(new CreateRepositoryCommand({ repositoryName: `chain/r${++n}` }));

  before(async () => {
    berth = await startInProcess();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
    runner = await createUser(berth, iam, 'runner', [], [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:*', Resource: '*' }] }]);
  });
  after(async () => {
    await berth?.cleanup();
  });

  describe('source identity', () => {
    before(async () => {
      await createRole('no-set', trust(['sts:AssumeRole']));
      await createRole('audited', trust(['sts:AssumeRole', 'sts:SetSourceIdentity']), denyCreateWhen({ StringEquals: { 'aws:SourceIdentity': 'alice' } }));
      await createRole('bobs', trust(['sts:AssumeRole', 'sts:SetSourceIdentity'], { StringEquals: { 'sts:SourceIdentity': 'bob' } }));
      await createRole('next', trust(['sts:AssumeRole', 'sts:SetSourceIdentity']), denyCreateWhen({ StringEquals: { 'aws:SourceIdentity': 'alice' } }));
      await createRole('next-no-set', trust(['sts:AssumeRole']));
    });

    it('needs sts:SetSourceIdentity in the trust policy to set one', async () => {
      assert.match(await refusal(assume(runner.keys, 'no-set', { SourceIdentity: 'alice' })), /^AccessDenied: .*sts:SetSourceIdentity/);
      await assume(runner.keys, 'no-set');
    });

    it("is aws:SourceIdentity on the session's requests", async () => {
      const set = await assume(runner.keys, 'audited', { SourceIdentity: 'alice' });
      assert.equal(set.SourceIdentity, 'alice');
      const alice = sessionKeys(set.Credentials);
      await ecrAs(alice).send(new DescribeRepositoriesCommand({}));
      assert.match(await refusal(creates(alice)), /^AccessDeniedException: .*ecr:CreateRepository.*explicit deny/);
      await creates(sessionKeys((await assume(runner.keys, 'audited', { SourceIdentity: 'carol' })).Credentials));
    });

    it('is kept along a chain: the next session has it, may not change it, and a trust asking for another refuses it', async () => {
      const alice = sessionKeys((await assume(runner.keys, 'audited', { SourceIdentity: 'alice' })).Credentials);
      const chained = await assume(alice, 'next');
      assert.equal(chained.SourceIdentity, 'alice');
      assert.match(await refusal(creates(sessionKeys(chained.Credentials))), /^AccessDeniedException: .*explicit deny/);
      assert.match(await refusal(assume(alice, 'next', { SourceIdentity: 'bob' })), /^AccessDenied: .*source identity/);
      assert.match(await refusal(assume(alice, 'bobs')), /^AccessDenied: .*sts:AssumeRole/);
      assert.match(await refusal(assume(alice, 'bobs', { SourceIdentity: 'bob' })), /^AccessDenied/);
      // Carried along a chain, it is set on the next role too, which must allow that.
      assert.match(await refusal(assume(alice, 'next-no-set')), /^AccessDenied: .*sts:SetSourceIdentity/);
      // A session without one may still chain where no source identity is asked for.
      await assume(sessionKeys((await assume(runner.keys, 'no-set')).Credentials), 'next-no-set');
    });
  });

  describe("a web identity token's source identity and session tags claims", () => {
    let issuer: TestIssuer;
    let federated: (actions: string[]) => object;
    const CLAIM = 'https://aws.amazon.com/source_identity';
    before(async () => {
      issuer = await startIssuer();
      const provider = await iam.send(new CreateOpenIDConnectProviderCommand({ Url: issuer.url, ClientIDList: ['sts.amazonaws.com'] }));
      federated = (actions: string[]) => ({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Federated: provider.OpenIDConnectProviderArn }, Action: actions }],
      });
      await createRole('wi-no-set', federated(['sts:AssumeRoleWithWebIdentity']));
      await createRole(
        'wi-audited',
        federated(['sts:AssumeRoleWithWebIdentity', 'sts:SetSourceIdentity']),
        denyCreateWhen({ StringEquals: { 'aws:SourceIdentity': 'alice' } }),
      );
    });
    after(async () => {
      await issuer?.close();
    });
    const exchange = (role: string, extra: Record<string, unknown> = {}, RoleSessionName = 'wi') => {
      const now = Math.floor(Date.now() / 1000);
      return new STSClient({ endpoint: berth.url, region: berth.region, maxAttempts: 1 }).send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: roleArn(role),
          RoleSessionName,
          WebIdentityToken: issuer.token({ sub: 'repo:acme/app', aud: 'sts.amazonaws.com', iat: now, exp: now + 300, ...extra }),
        }),
      );
    };

    it('needs sts:SetSourceIdentity in the trust policy, then is aws:SourceIdentity of the session and of those chained from it', async () => {
      await exchange('wi-no-set');
      assert.match(await refusal(exchange('wi-no-set', { [CLAIM]: 'alice' })), /^AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity/);
      const alice = await exchange('wi-audited', { [CLAIM]: 'alice' });
      assert.equal(alice.SourceIdentity, 'alice');
      assert.match(await refusal(creates(sessionKeys(alice.Credentials))), /^AccessDeniedException: .*explicit deny/);
      assert.match(
        await refusal(creates(sessionKeys((await assume(sessionKeys(alice.Credentials), 'next')).Credentials))),
        /^AccessDeniedException: .*explicit deny/,
      );
      await creates(sessionKeys((await exchange('wi-audited')).Credentials));
      assert.match(await refusal(exchange('wi-audited', { [CLAIM]: 'not a name' })), /^InvalidIdentityToken/);
    });

    it('its session tags claim needs sts:TagSession, then is aws:PrincipalTag of the session (and, made transitive, of those chained from it)', async () => {
      const TAGS = 'https://aws.amazon.com/tags';
      const red = { [TAGS]: { principal_tags: { team: ['red'] }, transitive_tag_keys: ['team'] } };
      await createRole(
        'wi-tagged',
        federated(['sts:AssumeRoleWithWebIdentity', 'sts:TagSession']),
        denyCreateWhen({ StringEquals: { 'aws:PrincipalTag/team': 'red' } }),
      );
      await createRole('wi-next', trust(['sts:AssumeRole', 'sts:TagSession']), denyCreateWhen({ StringEquals: { 'aws:PrincipalTag/team': 'red' } }));
      assert.match(await refusal(exchange('wi-no-set', red)), /^AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity/);
      const tagged = sessionKeys((await exchange('wi-tagged', red)).Credentials);
      assert.match(await refusal(creates(tagged)), /^AccessDeniedException: .*explicit deny/);
      assert.match(await refusal(creates(sessionKeys((await assume(tagged, 'wi-next')).Credentials))), /^AccessDeniedException: .*explicit deny/);
      await creates(sessionKeys((await exchange('wi-tagged')).Credentials));
      assert.match(await refusal(exchange('wi-tagged', { [TAGS]: { principal_tags: { team: [1] } } })), /^InvalidIdentityToken/);
    });

    it('sees sts:RoleSessionName, so a trust policy may refuse a session name', async () => {
      const doc = federated(['sts:AssumeRoleWithWebIdentity']) as { Statement: object[] };
      doc.Statement.push({
        Effect: 'Deny',
        Principal: '*',
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringLike: { 'sts:RoleSessionName': 'admin*' } },
      });
      await createRole('wi-named', doc);
      await exchange('wi-named', {}, 'build-1');
      assert.match(await refusal(exchange('wi-named', {}, 'admin-1')), /^AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity/);
    });
  });

  describe('transitive session tags', () => {
    before(async () => {
      await createRole('tagger', trust(['sts:AssumeRole', 'sts:TagSession']));
      await createRole('reds-denied', trust(['sts:AssumeRole', 'sts:TagSession']), denyCreateWhen({ StringEquals: { 'aws:PrincipalTag/team': 'red' } }));
    });
    const tagged = async (transitive: boolean) =>
      sessionKeys(
        (
          await assume(runner.keys, 'tagger', {
            Tags: [{ Key: 'team', Value: 'red' }],
            ...(transitive && { TransitiveTagKeys: ['team'] }),
          })
        ).Credentials,
      );

    it("a transitive tag is the chained session's aws:PrincipalTag, and the chained request may not set it again", async () => {
      const red = await tagged(true);
      const chained = sessionKeys((await assume(red, 'reds-denied')).Credentials);
      assert.match(await refusal(creates(chained)), /^AccessDeniedException: .*explicit deny/);
      assert.match(await refusal(assume(red, 'reds-denied', { Tags: [{ Key: 'Team', Value: 'blue' }] })), /^InvalidParameterValue: .*transitive tag/);
      // Inherited tags tag the next session: its role's trust must allow sts:TagSession.
      await createRole('no-tagging', trust(['sts:AssumeRole']));
      assert.match(await refusal(assume(red, 'no-tagging')), /^AccessDenied: .*sts:TagSession/);
      // Two hops: still inherited.
      const twice = sessionKeys((await assume(sessionKeys((await assume(red, 'tagger')).Credentials), 'reds-denied')).Credentials);
      assert.match(await refusal(creates(twice)), /^AccessDeniedException: .*explicit deny/);
    });

    it('a tag not made transitive is not inherited', async () => {
      await creates(sessionKeys((await assume(await tagged(false), 'reds-denied')).Credentials));
    });

    it('refuses TransitiveTagKeys naming a tag the request does not pass', async () => {
      assert.match(
        await refusal(assume(runner.keys, 'tagger', { Tags: [{ Key: 'team', Value: 'red' }], TransitiveTagKeys: ['project'] })),
        /^InvalidParameterValue: .*project/,
      );
    });
  });
});
