/** Registry-level configuration through @aws-sdk/client-ecr: replication, scanning, DescribeRegistry. */
import {
  BatchGetRepositoryScanningConfigurationCommand,
  CreateRepositoryCommand,
  DescribeRegistryCommand,
  GetRegistryScanningConfigurationCommand,
  PutRegistryScanningConfigurationCommand,
  PutReplicationConfigurationCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { ecrClient } from '../e2e/helpers/ecr-client.js';

describe('registry configuration', () => {
  let berth: BerthInProcess;
  let ecr: ECRClient;
  before(async () => {
    berth = await startInProcess();
    ecr = ecrClient(berth);
  });
  after(async () => berth?.cleanup());

  it('stores and validates replication configuration, read back with DescribeRegistry', async () => {
    const empty = await ecr.send(new DescribeRegistryCommand({}));
    assert.equal(empty.registryId, '000000000000');
    assert.deepEqual(empty.replicationConfiguration, { rules: [] });
    const rules = [
      { destinations: [{ region: 'eu-west-1', registryId: '000000000000' }], repositoryFilters: [{ filter: 'prod-', filterType: 'PREFIX_MATCH' as const }] },
    ];
    await ecr.send(new PutReplicationConfigurationCommand({ replicationConfiguration: { rules } }));
    assert.deepEqual((await ecr.send(new DescribeRegistryCommand({}))).replicationConfiguration, { rules });
    await assert.rejects(
      ecr.send(
        new PutReplicationConfigurationCommand({
          replicationConfiguration: { rules: [{ destinations: [{ region: 'us-east-1', registryId: '000000000000' }] }] },
        }),
      ),
      (e: Error) => e.name === 'InvalidParameterException' && /same as the source/.test(e.message),
    );
    const eleven = Array.from({ length: 11 }, () => rules[0]!);
    await assert.rejects(ecr.send(new PutReplicationConfigurationCommand({ replicationConfiguration: { rules: eleven } })), {
      name: 'ValidationException',
      message: /at 'replicationConfiguration\.rules' failed to satisfy constraint: Member must have length less than or equal to 10$/,
    });
  });

  it('stores scanning configuration and applies its rules per repository', async () => {
    assert.deepEqual((await ecr.send(new GetRegistryScanningConfigurationCommand({}))).scanningConfiguration, { scanType: 'BASIC', rules: [] });
    await ecr.send(
      new PutRegistryScanningConfigurationCommand({
        scanType: 'ENHANCED',
        rules: [{ scanFrequency: 'CONTINUOUS_SCAN', repositoryFilters: [{ filter: 'prod*', filterType: 'WILDCARD' }] }],
      }),
    );
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'prod/api' }));
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'dev/api', imageScanningConfiguration: { scanOnPush: true } }));
    const out = await ecr.send(new BatchGetRepositoryScanningConfigurationCommand({ repositoryNames: ['prod/api', 'dev/api', 'nope/x'] }));
    assert.equal(out.scanningConfigurations?.[0]?.scanFrequency, 'CONTINUOUS_SCAN');
    assert.deepEqual(out.scanningConfigurations?.[0]?.appliedScanFilters, [{ filter: 'prod*', filterType: 'WILDCARD' }]);
    assert.equal(out.scanningConfigurations?.[1]?.scanFrequency, 'SCAN_ON_PUSH');
    assert.equal(out.failures?.[0]?.failureCode, 'REPOSITORY_NOT_FOUND');
    await assert.rejects(
      ecr.send(
        new PutRegistryScanningConfigurationCommand({
          scanType: 'BASIC',
          rules: [{ scanFrequency: 'CONTINUOUS_SCAN', repositoryFilters: [{ filter: '*', filterType: 'WILDCARD' }] }],
        }),
      ),
      { name: 'InvalidParameterException' },
    );
    const three = Array.from({ length: 3 }, () => ({
      scanFrequency: 'SCAN_ON_PUSH' as const,
      repositoryFilters: [{ filter: '*', filterType: 'WILDCARD' as const }],
    }));
    await assert.rejects(ecr.send(new PutRegistryScanningConfigurationCommand({ scanType: 'BASIC', rules: three })), {
      name: 'ValidationException',
      message: /at 'rules' failed to satisfy constraint: Member must have length less than or equal to 2$/,
    });
  });
});
