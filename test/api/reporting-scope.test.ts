/**
 * What Berth reports and does later, probed from outside as a checker would: the audit trail
 * (CloudTrail's LookupEvents), events delivered to a rule's target, scan findings, replication
 * status, lifecycle previews and the registry-level settings that drive them. A user U of account
 * A whose identity policy allows `ecr:*` on `a/one` only; `a/two` beside it; account B's
 * `b/secret`. Each probe is the request that must be refused (its `__type`) or the answer that
 * must show nothing of the other scope, then a check that nothing changed. Driven over real HTTP
 * with @aws-sdk/client-{ecr,cloudtrail,eventbridge,iam}. Sources: notes/2026-12-07-s37-async.md.
 */
import { CloudTrailClient, type Event, LookupEventsCommand, type LookupEventsCommandInput } from '@aws-sdk/client-cloudtrail';
import {
  BatchGetRepositoryScanningConfigurationCommand,
  CreateRepositoryCommand,
  CreateRepositoryCreationTemplateCommand,
  DescribeImageReplicationStatusCommand,
  DescribeImagesCommand,
  DescribeImageScanFindingsCommand,
  DescribePullThroughCacheRulesCommand,
  DescribeRegistryCommand,
  DescribeRepositoryCreationTemplatesCommand,
  type ECRClient,
  GetAccountSettingCommand,
  GetLifecyclePolicyCommand,
  GetLifecyclePolicyPreviewCommand,
  GetRegistryPolicyCommand,
  GetRegistryScanningConfigurationCommand,
  ListReplicationBackfillsCommand,
  PutAccountSettingCommand,
  PutImageCommand,
  PutLifecyclePolicyCommand,
  PutRegistryScanningConfigurationCommand,
  SetRepositoryPolicyCommand,
  PutReplicationConfigurationCommand,
  StartImageScanCommand,
  StartLifecyclePolicyPreviewCommand,
} from '@aws-sdk/client-ecr';
import {
  CreateApiDestinationCommand,
  CreateConnectionCommand,
  DescribeApiDestinationCommand,
  DescribeConnectionCommand,
  DescribeRuleCommand,
  EventBridgeClient,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, type Credentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { eventsInvokeRole } from '../e2e/helpers/events-role.js';
import { createAccount, createUser, otherAccountIdentity, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { refusal } from '../e2e/helpers/refusal.js';
import { asBody, configOnlyManifest, sha256 } from '../e2e/helpers/registry-http.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { imageRepository } from './helpers/iam-access.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const A = '000000000000';
const B = '111122223333';
const repoArn = (account: string, name: string) => `arn:aws:ecr:us-east-1:${account}:repository/${name}`;
const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });
const EXPIRE_ALL = JSON.stringify({
  rules: [
    { rulePriority: 1, description: 'all', selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }, action: { type: 'expire' } },
  ],
});
const denied = /^AccessDeniedException/;

describe('what Berth reports and does later reaches no other repository or account', () => {
  let berth: BerthInProcess;
  let admin: ECRClient;
  let adminKeys: Credentials;
  let u: TestIdentity;
  let b: TestIdentity;
  let hook: Server;
  let aConnection: string;
  const delivered: string[] = [];

  const trail = (credentials: Credentials) => new CloudTrailClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });
  const events = (credentials: Credentials) => new EventBridgeClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });
  const lookup = async (credentials: Credentials, input: LookupEventsCommandInput): Promise<Event[]> =>
    (await trail(credentials).send(new LookupEventsCommand(input))).Events ?? [];
  const byAttr = (AttributeKey: NonNullable<LookupEventsCommandInput['LookupAttributes']>[number]['AttributeKey'], AttributeValue: string) => ({
    LookupAttributes: [{ AttributeKey, AttributeValue }],
  });

  before(async () => {
    berth = await startInProcess({ onDisk: true });
    adminKeys = adminCredentials(berth);
    admin = ecrClient(berth);
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminKeys, maxAttempts: 1 });
    await imageRepository(berth.url, admin, 'a/one', Buffer.from('{"a":1}'));
    await imageRepository(berth.url, admin, 'a/two', Buffer.from('{"a":2}'));
    const login = { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' };
    u = await createUser(berth, iam, 'u', [], [doc(login, { Effect: 'Allow', Action: 'ecr:*', Resource: repoArn(A, 'a/one') })]);
    await createAccount(berth, B);
    b = await otherAccountIdentity(berth, B);

    // Account A's rule, matching every ECR event, to a webhook on loopback.
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        delivered.push(body);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const eb = events(adminKeys);
    const conn = await eb.send(
      new CreateConnectionCommand({
        Name: 'a-hook',
        AuthorizationType: 'API_KEY',
        AuthParameters: { ApiKeyAuthParameters: { ApiKeyName: 'X-Key', ApiKeyValue: 'a-key' } },
      }),
    );
    aConnection = conn.ConnectionArn!;
    const dest = await eb.send(
      new CreateApiDestinationCommand({
        Name: 'a-hook',
        ConnectionArn: conn.ConnectionArn,
        InvocationEndpoint: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/in`,
        HttpMethod: 'POST',
      }),
    );
    const role = await eventsInvokeRole(iam, 'a-invoke', dest.ApiDestinationArn!);
    await eb.send(new PutRuleCommand({ Name: 'a-rule', EventPattern: JSON.stringify({ source: ['aws.ecr'] }) }));
    const put = await eb.send(new PutTargetsCommand({ Rule: 'a-rule', Targets: [{ Id: 'hook', Arn: dest.ApiDestinationArn!, RoleArn: role }] }));
    assert.equal(put.FailedEntryCount, 0);

    // B's repository, pushed after A's rule exists: its events must not reach A's rule.
    const config = Buffer.from('{"b":"secret"}');
    await b.ecr.send(new CreateRepositoryCommand({ repositoryName: 'b/secret' }));
    const blob = await b.v2(`/v2/b/secret/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', body: asBody(config) });
    assert.equal(blob.status, 201, blob.body.toString());
    await b.ecr.send(new PutImageCommand({ repositoryName: 'b/secret', imageManifest: configOnlyManifest(config), imageTag: 'v1' }));
  });
  after(async () => {
    hook?.close();
    await berth?.cleanup();
  });

  it("LookupEvents needs cloudtrail:LookupEvents, and no lookup attribute or token reaches another account's records", async () => {
    assert.match(await refusal(trail(u.keys).send(new LookupEventsCommand({}))), denied);
    await b.ecr.send(new DescribeImagesCommand({ repositoryName: 'b/secret' }));
    await b.ecr.send(new DescribeRegistryCommand({}));
    const theirs = await waitFor('B sees its own DescribeImages', async () => {
      const found = await lookup(b.keys, byAttr('EventName', 'DescribeImages'));
      return found.length > 0 ? found : undefined;
    });
    assert.ok(theirs.every((e) => (JSON.parse(e.CloudTrailEvent!) as { recipientAccountId: string }).recipientAccountId === B));
    // A's root asks for B's records by every attribute that names them.
    for (const query of [
      byAttr('ResourceName', repoArn(B, 'b/secret')),
      byAttr('ResourceName', 'b/secret'),
      byAttr('AccessKeyId', b.keys.accessKeyId),
      byAttr('Username', 'root'),
      byAttr('EventId', theirs[0]!.EventId!),
      byAttr('EventName', 'DescribeImages'),
      byAttr('EventName', 'CreateRepository'),
      {},
    ]) {
      const found = await lookup(adminKeys, query);
      assert.deepEqual(
        found.filter((e) => e.CloudTrailEvent!.includes(B) || e.CloudTrailEvent!.includes('b/secret')),
        [],
        JSON.stringify(query),
      );
    }
    // A page token B was given is not A's to follow, under the same parameters or any other.
    const page = await trail(b.keys).send(new LookupEventsCommand({ MaxResults: 1 }));
    assert.ok(page.NextToken, 'B has more than one event');
    assert.match(await refusal(trail(adminKeys).send(new LookupEventsCommand({ MaxResults: 1, NextToken: page.NextToken }))), /^InvalidNextTokenException/);
    assert.match(
      await refusal(trail(b.keys).send(new LookupEventsCommand({ MaxResults: 1, NextToken: page.NextToken, ...byAttr('EventName', 'DescribeImages') }))),
      /^InvalidNextTokenException/,
    );
  });

  it("names the registry a cross-account /v2 call addressed, not the caller's, in the caller's trail; its events are the registry's", async () => {
    type Rec = { requestParameters: { registryId: string; repositoryName: string }; resources: Array<{ accountId: string; ARN: string }> };
    const push = [
      'ecr:BatchGetImage',
      'ecr:BatchCheckLayerAvailability',
      'ecr:InitiateLayerUpload',
      'ecr:UploadLayerPart',
      'ecr:CompleteLayerUpload',
      'ecr:PutImage',
    ];
    const grant = doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B}:root` }, Action: push });
    await admin.send(new SetRepositoryPolicyCommand({ repositoryName: 'a/one', policyText: JSON.stringify(grant) }));
    const accept = { accept: 'application/vnd.oci.image.manifest.v1+json' };
    assert.equal((await b.v2(`/v2/account--${A}/a/one/manifests/v1`, { headers: accept })).status, 200);
    assert.equal((await b.v2(`/v2/account--${A}/a/two/manifests/v1`, { headers: accept })).status, 403);
    // A's catalog is registry-level: refused without A's registry policy, and recorded as A's registry's.
    assert.equal((await b.v2(`/v2/account--${A}/_catalog`)).status, 403);
    const catalog = await waitFor("B's catalog read recorded", async () => (await lookup(b.keys, byAttr('EventName', 'DescribeRepositories')))[0]);
    assert.equal((JSON.parse(catalog.CloudTrailEvent!) as Rec).requestParameters.registryId, A);
    // B pushes into A's repository: the event is the registry's, A's rule gets it.
    const config = Buffer.from('{"from":"b"}');
    assert.equal((await b.v2(`/v2/account--${A}/a/one/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', body: asBody(config) })).status, 201);
    const put = await b.v2(`/v2/account--${A}/a/one/manifests/from-b`, {
      method: 'PUT',
      headers: { 'content-type': accept.accept },
      body: configOnlyManifest(config),
    });
    assert.equal(put.status, 201, put.body.toString());
    const event = await waitFor("B's push into a/one delivered to A's rule", () => delivered.find((d) => d.includes('"from-b"')));
    assert.equal((JSON.parse(event) as { account: string }).account, A);
    const pushed = await waitFor("B's push into a/one recorded", async () =>
      (await lookup(b.keys, byAttr('EventName', 'PutImage')))
        .map((e) => JSON.parse(e.CloudTrailEvent!) as Rec)
        .find((r) => r.requestParameters.repositoryName === 'a/one'),
    );
    assert.equal(pushed.requestParameters.registryId, A);
    const records = await waitFor("B's two pulls recorded", async () => {
      const found = (await lookup(b.keys, byAttr('EventName', 'BatchGetImage'))).map((e) => JSON.parse(e.CloudTrailEvent!) as Rec);
      return found.length >= 2 ? found : undefined;
    });
    for (const name of ['a/one', 'a/two']) {
      const r = records.find((x) => x.requestParameters.repositoryName === name)!;
      assert.equal(r.requestParameters.registryId, A, name);
      assert.deepEqual(r.resources, [{ accountId: A, type: 'AWS::ECR::Repository', ARN: repoArn(A, name) }], name);
    }
  });

  it('refuses U the scan findings, replication status, lifecycle policy and previews of a repository it may not touch, changing nothing', async () => {
    await admin.send(new PutLifecyclePolicyCommand({ repositoryName: 'a/two', lifecyclePolicyText: EXPIRE_ALL }));
    await admin.send(new StartLifecyclePolicyPreviewCommand({ repositoryName: 'a/two' }));
    const preview = await waitFor('the preview of a/two', async () => {
      const p = await admin.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: 'a/two' }));
      return p.status === 'COMPLETE' ? p : undefined;
    });
    const imageId = { imageTag: 'v1' };
    for (const [op, call] of [
      ['StartImageScan', () => u.ecr.send(new StartImageScanCommand({ repositoryName: 'a/two', imageId }))],
      ['DescribeImageScanFindings', () => u.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'a/two', imageId }))],
      ['DescribeImageReplicationStatus', () => u.ecr.send(new DescribeImageReplicationStatusCommand({ repositoryName: 'a/two', imageId }))],
      [
        'BatchGetRepositoryScanningConfiguration',
        () => u.ecr.send(new BatchGetRepositoryScanningConfigurationCommand({ repositoryNames: ['a/one', 'a/two'] })),
      ],
      ['GetLifecyclePolicy', () => u.ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'a/two' }))],
      ['GetLifecyclePolicyPreview', () => u.ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: 'a/two' }))],
      ['StartLifecyclePolicyPreview', () => u.ecr.send(new StartLifecyclePolicyPreviewCommand({ repositoryName: 'a/two' }))],
      // The same by A's root against B's repository, named by registryId: no policy of B grants it.
      ['StartImageScan (B)', () => admin.send(new StartImageScanCommand({ registryId: B, repositoryName: 'b/secret', imageId }))],
      ['DescribeImageScanFindings (B)', () => admin.send(new DescribeImageScanFindingsCommand({ registryId: B, repositoryName: 'b/secret', imageId }))],
      [
        'DescribeImageReplicationStatus (B)',
        () => admin.send(new DescribeImageReplicationStatusCommand({ registryId: B, repositoryName: 'b/secret', imageId })),
      ],
      ['GetLifecyclePolicyPreview (B)', () => admin.send(new GetLifecyclePolicyPreviewCommand({ registryId: B, repositoryName: 'b/secret' }))],
      [
        'StartLifecyclePolicyPreview (B)',
        () => admin.send(new StartLifecyclePolicyPreviewCommand({ registryId: B, repositoryName: 'b/secret', lifecyclePolicyText: EXPIRE_ALL })),
      ],
    ] as const) {
      assert.match(await refusal(call()), denied, op);
    }
    // Nothing was started: no scan of a/two or b/secret, and a/two's preview is the admin's.
    assert.match(await refusal(admin.send(new DescribeImageScanFindingsCommand({ repositoryName: 'a/two', imageId }))), /^ScanNotFoundException/);
    assert.match(await refusal(b.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'b/secret', imageId }))), /^ScanNotFoundException/);
    assert.match(await refusal(b.ecr.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: 'b/secret' }))), /^LifecyclePolicyPreviewNotFoundException/);
    const again = await admin.send(new GetLifecyclePolicyPreviewCommand({ repositoryName: 'a/two' }));
    assert.deepEqual([again.status, again.lifecyclePolicyText], [preview.status, preview.lifecyclePolicyText]);
  });

  it('needs each registry-level action on the registry, and shows an account none of another account’s settings', async () => {
    // A's settings that B must not see.
    await admin.send(new CreateRepositoryCreationTemplateCommand({ prefix: 'a', appliedFor: ['CREATE_ON_PUSH'], imageTagMutability: 'IMMUTABLE' }));
    await admin.send(
      new PutRegistryScanningConfigurationCommand({
        scanType: 'BASIC',
        rules: [{ scanFrequency: 'SCAN_ON_PUSH', repositoryFilters: [{ filter: 'a/*', filterType: 'WILDCARD' }] }],
      }),
    );
    await admin.send(new PutAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE', value: 'V1' }));
    const before = await admin.send(new DescribeRegistryCommand({}));
    // U may do anything to a/one, which is no right on the registry: not even a rule whose filter names only a/one.
    const onlyOne = {
      rules: [{ destinations: [{ region: 'eu-west-1', registryId: A }], repositoryFilters: [{ filter: 'a/one', filterType: 'PREFIX_MATCH' as const }] }],
    };
    for (const [op, call] of [
      ['DescribeRegistry', () => u.ecr.send(new DescribeRegistryCommand({}))],
      ['GetRegistryPolicy', () => u.ecr.send(new GetRegistryPolicyCommand({}))],
      ['GetRegistryScanningConfiguration', () => u.ecr.send(new GetRegistryScanningConfigurationCommand({}))],
      ['PutRegistryScanningConfiguration', () => u.ecr.send(new PutRegistryScanningConfigurationCommand({ scanType: 'BASIC', rules: [] }))],
      ['PutReplicationConfiguration', () => u.ecr.send(new PutReplicationConfigurationCommand({ replicationConfiguration: onlyOne }))],
      ['GetAccountSetting', () => u.ecr.send(new GetAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE' }))],
      ['PutAccountSetting', () => u.ecr.send(new PutAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE', value: 'V2' }))],
      ['DescribeRepositoryCreationTemplates', () => u.ecr.send(new DescribeRepositoryCreationTemplatesCommand({}))],
      ['DescribePullThroughCacheRules', () => u.ecr.send(new DescribePullThroughCacheRulesCommand({}))],
      ['ListReplicationBackfills', () => u.ecr.send(new ListReplicationBackfillsCommand({}))],
    ] as const) {
      assert.match(await refusal(call()), denied, op);
    }
    const after = await admin.send(new DescribeRegistryCommand({}));
    assert.deepEqual(after.replicationConfiguration, before.replicationConfiguration);
    assert.equal((await admin.send(new GetRegistryScanningConfigurationCommand({}))).scanningConfiguration?.rules?.length, 1);
    // B reads its own registry's settings: none of A's.
    const theirs = await b.ecr.send(new DescribeRegistryCommand({}));
    assert.equal(theirs.registryId, B);
    assert.deepEqual(theirs.replicationConfiguration?.rules ?? [], []);
    assert.deepEqual((await b.ecr.send(new DescribeRepositoryCreationTemplatesCommand({}))).repositoryCreationTemplates ?? [], []);
    assert.equal((await b.ecr.send(new GetAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE' }))).value, 'V2');
    assert.equal((await admin.send(new GetAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE' }))).value, 'V1');
    const scanning = await b.ecr.send(new GetRegistryScanningConfigurationCommand({}));
    assert.equal(scanning.registryId, B);
    assert.deepEqual(scanning.scanningConfiguration?.rules ?? [], []);
  });

  it("delivers to A's rule A's events only: none of B's pushes, and B reaches none of A's rules or connections", async () => {
    const eb = events(b.keys);
    // A push in A after B's: once A's event arrived, B's (written before it) would have too.
    await imageRepository(berth.url, admin, 'a/three', Buffer.from('{"a":3}'));
    await waitFor("A's push delivered", () => delivered.find((d) => d.includes('a/three')));
    const accounts = delivered.map((d) => (JSON.parse(d) as { account: string }).account);
    assert.deepEqual([...new Set(accounts)], [A]);
    assert.deepEqual(
      delivered.filter((d) => d.includes('b/secret') || d.includes(B)),
      [],
    );
    // B names A's rule, connection and API destination: none is B's.
    assert.deepEqual(
      ((await eb.send(new ListRulesCommand({}))).Rules ?? []).map((r) => r.Name),
      [],
    );
    assert.match(await refusal(eb.send(new DescribeRuleCommand({ Name: 'a-rule' }))), /^ResourceNotFoundException/);
    assert.match(await refusal(eb.send(new ListTargetsByRuleCommand({ Rule: 'a-rule' }))), /^ResourceNotFoundException/);
    assert.match(await refusal(eb.send(new DescribeConnectionCommand({ Name: 'a-hook' }))), /^ResourceNotFoundException/);
    assert.match(await refusal(eb.send(new DescribeApiDestinationCommand({ Name: 'a-hook' }))), /^ResourceNotFoundException/);
    // A's connection (and its API key) is not B's to send with.
    assert.match(
      await refusal(
        eb.send(
          new CreateApiDestinationCommand({
            Name: 'b-dest',
            ConnectionArn: aConnection,
            InvocationEndpoint: 'https://hooks.example.com/b',
            HttpMethod: 'POST',
          }),
        ),
      ),
      /^(ValidationException|ResourceNotFoundException)/,
    );
    // EventBridge refuses a custom event whose source is an AWS service's (aws.*); Berth serves no PutEvents at all.
    const forged = {
      Source: 'aws.ecr',
      DetailType: 'ECR Image Action',
      Detail: JSON.stringify({ 'repository-name': 'a/one', 'action-type': 'PUSH', result: 'SUCCESS' }),
    };
    assert.match(await refusal(events(adminKeys).send(new PutEventsCommand({ Entries: [forged] }))), /^UnknownOperationException/);
    const aTargets = (await events(adminKeys).send(new ListTargetsByRuleCommand({ Rule: 'a-rule' }))).Targets ?? [];
    await eb.send(new PutRuleCommand({ Name: 'b-rule', EventPattern: JSON.stringify({ source: ['aws.ecr'] }) }));
    const put = await eb.send(new PutTargetsCommand({ Rule: 'b-rule', Targets: [{ Id: 'steal', Arn: aTargets[0]!.Arn!, RoleArn: aTargets[0]!.RoleArn! }] }));
    assert.equal(put.FailedEntryCount, 1);
    assert.deepEqual((await eb.send(new ListTargetsByRuleCommand({ Rule: 'b-rule' }))).Targets ?? [], []);
    // U may not route A's events at all.
    assert.match(await refusal(events(u.keys).send(new PutRuleCommand({ Name: 'u-rule', EventPattern: '{"source":["aws.ecr"]}' }))), denied);
  });
});
