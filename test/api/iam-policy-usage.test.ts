/**
 * Which users and roles use Berth's managed policies, over real HTTP with the AWS SDK: ListPolicies'
 * filters (PolicyUsageFilter, OnlyAttached, Scope, PathPrefix) and its usage counts, and
 * ListEntitiesForPolicy (Terraform's aws_iam_policy_attachment, the console's "policy usage") with
 * EntityFilter, PathPrefix, PolicyUsageFilter and paging; an unknown policy and a refused caller.
 * Sources: notes/2026-12-06-s29-leftovers.md (the fact table).
 */
import {
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  IAMClient,
  ListEntitiesForPolicyCommand,
  ListPoliciesCommand,
  type ListPoliciesCommandInput,
} from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials } from '../e2e/helpers/ecr-client.js';
import { createUser, MANAGED } from '../e2e/helpers/iam-users.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';
const READ_ONLY = `${MANAGED}ReadOnly`;
const POWER_USER = `${MANAGED}PowerUser`;
const FULL = `${MANAGED}FullAccess`;
const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }],
});

describe('IAM policy usage: ListPolicies filters and ListEntitiesForPolicy', () => {
  let berth: BerthInProcess;
  let iam: IAMClient;
  const listed = async (input: ListPoliciesCommandInput) => (await iam.send(new ListPoliciesCommand(input))).Policies!.map((p) => p.Arn).sort();

  before(async () => {
    berth = await startInProcess();
    iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth) });
    // READ_ONLY: attached to a user and a role. POWER_USER: a user's and a role's boundary only. FULL: unused.
    await iam.send(new CreateUserCommand({ UserName: 'pu-a', Path: '/team/', PermissionsBoundary: POWER_USER }));
    await iam.send(new AttachUserPolicyCommand({ UserName: 'pu-a', PolicyArn: READ_ONLY }));
    await iam.send(new CreateUserCommand({ UserName: 'pu-b' }));
    await iam.send(new AttachUserPolicyCommand({ UserName: 'pu-b', PolicyArn: READ_ONLY }));
    await iam.send(new CreateRoleCommand({ RoleName: 'pu-role', AssumeRolePolicyDocument: TRUST, PermissionsBoundary: POWER_USER }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'pu-role', PolicyArn: READ_ONLY }));
  });
  after(async () => berth?.cleanup());

  it('ListPolicies applies PolicyUsageFilter, OnlyAttached, Scope and PathPrefix, and counts each use', async () => {
    assert.deepEqual(await listed({ PolicyUsageFilter: 'PermissionsBoundary' }), [POWER_USER], 'only the policies set as boundaries');
    assert.deepEqual(await listed({ PolicyUsageFilter: 'PermissionsPolicy' }), [READ_ONLY], 'only the policies attached as permissions policies');
    // IAM's OnlyAttached is its AttachmentCount: a policy used only as a boundary is not attached.
    assert.deepEqual(await listed({ OnlyAttached: true }), [READ_ONLY], 'attached as a permissions policy');
    assert.deepEqual(await listed({ OnlyAttached: true, PolicyUsageFilter: 'PermissionsBoundary' }), [POWER_USER]);
    assert.ok((await listed({})).includes(FULL), 'no filter: every policy');
    assert.deepEqual(await listed({ Scope: 'Local' }), [], 'Berth has no customer managed policies');
    assert.ok((await listed({ Scope: 'AWS' })).includes(FULL));
    assert.deepEqual(await listed({ PathPrefix: '/service-role/' }), [], "every managed policy Berth keeps has path '/'");
    const all = (await iam.send(new ListPoliciesCommand({}))).Policies!;
    const of = (arn: string) => all.find((p) => p.Arn === arn)!;
    assert.equal(of(READ_ONLY).AttachmentCount, 3);
    assert.equal(of(READ_ONLY).PermissionsBoundaryUsageCount, 0);
    assert.equal(of(POWER_USER).AttachmentCount, 0);
    assert.equal(of(POWER_USER).PermissionsBoundaryUsageCount, 2);
  });

  it('ListPolicies pages with MaxItems and Marker', async () => {
    const all = await listed({});
    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const page = await iam.send(new ListPoliciesCommand({ MaxItems: 2, ...(marker && { Marker: marker }) }));
      assert.ok(page.Policies!.length <= 2);
      seen.push(...page.Policies!.map((p) => p.Arn!));
      marker = page.IsTruncated ? page.Marker : undefined;
      assert.equal(page.IsTruncated, marker !== undefined);
    } while (marker);
    assert.deepEqual(seen.sort(), all);
    await assert.rejects(
      iam.send(new ListPoliciesCommand({ Marker: 'not-a-marker' })),
      (e: Error) => e.name === 'InvalidInput' || e.name === 'InvalidInputException',
    );
  });

  it('ListEntitiesForPolicy names the users and roles a policy is attached to, or bounds, by filter', async () => {
    const entities = async (input: Omit<ConstructorParameters<typeof ListEntitiesForPolicyCommand>[0], 'PolicyArn'>, arn = READ_ONLY) => {
      const r = await iam.send(new ListEntitiesForPolicyCommand({ PolicyArn: arn, ...input }));
      return { users: r.PolicyUsers!.map((u) => u.UserName).sort(), roles: r.PolicyRoles!.map((x) => x.RoleName).sort(), groups: r.PolicyGroups!.length, r };
    };
    const attached = await entities({});
    assert.deepEqual(attached.users, ['pu-a', 'pu-b']);
    assert.deepEqual(attached.roles, ['pu-role']);
    assert.equal(attached.groups, 0, 'Berth has no groups');
    assert.match(attached.r.PolicyUsers![0]!.UserId!, /^AIDA/);
    assert.match(attached.r.PolicyRoles![0]!.RoleId!, /^AROA/);
    assert.deepEqual((await entities({ EntityFilter: 'Role' })).users, []);
    assert.deepEqual((await entities({ EntityFilter: 'User' })).roles, []);
    assert.deepEqual((await entities({ PathPrefix: '/team/' })).users, ['pu-a']);
    assert.deepEqual((await entities({ PathPrefix: '/team/' })).roles, []);
    assert.deepEqual((await entities({ PolicyUsageFilter: 'PermissionsBoundary' })).users, [], "READ_ONLY is nobody's boundary");
    const bounded = await entities({ PolicyUsageFilter: 'PermissionsBoundary' }, POWER_USER);
    assert.deepEqual([bounded.users, bounded.roles], [['pu-a'], ['pu-role']]);
    const all = await entities({}, POWER_USER);
    assert.deepEqual([all.users, all.roles], [['pu-a'], ['pu-role']], 'no filter: both uses');
    assert.deepEqual((await entities({ PolicyUsageFilter: 'PermissionsPolicy' }, POWER_USER)).users, []);
    const unused = await entities({}, FULL);
    assert.deepEqual([unused.users, unused.roles, unused.r.IsTruncated], [[], [], false]);
  });

  it('ListEntitiesForPolicy pages with MaxItems and Marker', async () => {
    const names: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const r = await iam.send(new ListEntitiesForPolicyCommand({ PolicyArn: READ_ONLY, MaxItems: 1, ...(marker && { Marker: marker }) }));
      assert.equal(r.PolicyUsers!.length + r.PolicyRoles!.length, 1);
      names.push(...r.PolicyUsers!.map((u) => u.UserName!), ...r.PolicyRoles!.map((x) => x.RoleName!));
      marker = r.IsTruncated ? r.Marker : undefined;
      pages++;
    } while (marker);
    assert.equal(pages, 3);
    assert.deepEqual(names.sort(), ['pu-a', 'pu-b', 'pu-role']);
  });

  it('ListEntitiesForPolicy refuses a policy Berth does not have, and a caller not allowed iam:ListEntitiesForPolicy', async () => {
    const missing = 'arn:aws:iam::aws:policy/NoSuchPolicy';
    await assert.rejects(iam.send(new ListEntitiesForPolicyCommand({ PolicyArn: missing })), (e: Error) => {
      assert.equal(e.name, 'NoSuchEntityException');
      assert.equal(e.message, `Policy ${missing} was not found.`);
      return true;
    });
    const reader = await createUser(berth, iam, 'pu-reader', ['ReadOnly']);
    const asReader = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: reader.keys });
    await assert.rejects(asReader.send(new ListEntitiesForPolicyCommand({ PolicyArn: READ_ONLY })), (e: Error) => {
      assert.equal(e.name, 'AccessDenied');
      assert.match(
        e.message,
        /is not authorized to perform: iam:ListEntitiesForPolicy on resource: arn:aws:iam::aws:policy\/AmazonEC2ContainerRegistryReadOnly/,
      );
      return true;
    });
    const auditor = await createUser(
      berth,
      iam,
      'pu-auditor',
      [],
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iam:ListEntitiesForPolicy', Resource: READ_ONLY }] }],
    );
    const asAuditor = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: auditor.keys });
    const r = await asAuditor.send(new ListEntitiesForPolicyCommand({ PolicyArn: READ_ONLY }));
    assert.ok(r.PolicyUsers!.some((u) => u.UserName === 'pu-a'));
    await assert.rejects(
      asAuditor.send(new ListEntitiesForPolicyCommand({ PolicyArn: POWER_USER })),
      (e: Error) => e.name === 'AccessDenied',
      'only the policy it is allowed',
    );
  });
});
