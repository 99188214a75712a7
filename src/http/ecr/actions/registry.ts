/**
 * DescribeRegistry, PutReplicationConfiguration, Put/GetRegistryScanningConfiguration,
 * BatchGetRepositoryScanningConfiguration.
 */
import { z } from 'zod';
import { Codes, isRegistryError } from '../../../core/errors.js';
import { addressedRegistry, repoScope, type EcrAction } from '../context.js';
import { modelPattern, parseInput, registryId, repositoryName } from '../input.js';
import { repositoryArn } from '../../../core/arns.js';
import { SCAN_FILTER_LINEAR } from '../../../registry/registry-config.js';

export const DescribeRegistry: EcrAction = async (call) => {
  parseInput(z.object({}).strict(), call.body);
  return { registryId: call.accountId, replicationConfiguration: await call.registry.config.replication(addressedRegistry(call)) };
};

const REPLICATION_FILTER = modelPattern('^(?:[a-z0-9]+(?:[._-][a-z0-9]*)*/)*[a-z0-9]*(?:[._-][a-z0-9]*)*$');
const SCANNING_FILTER = modelPattern('^[a-z0-9*](?:[._\\-/a-z0-9*]?[a-z0-9*]+)*$', SCAN_FILTER_LINEAR);

const replicationInput = z
  .object({
    replicationConfiguration: z
      .object({
        rules: z
          .array(
            z
              .object({
                // The model allows 100 per rule; the quota of 25 unique destinations is the core's.
                destinations: z
                  .array(z.object({ region: z.string().min(2).max(25).regex(modelPattern('[0-9a-z-]{2,25}')), registryId }).strict())
                  .min(1)
                  .max(100),
                repositoryFilters: z
                  .array(z.object({ filter: z.string().min(2).max(256).regex(REPLICATION_FILTER), filterType: z.literal('PREFIX_MATCH') }).strict())
                  .min(1)
                  .max(100)
                  .optional(),
              })
              .strict(),
          )
          .max(10),
      })
      .strict(),
  })
  .strict();

export const PutReplicationConfiguration: EcrAction = async (call) => {
  const input = parseInput(replicationInput, call.body);
  const config = await call.registry.config.setReplication(addressedRegistry(call), call.region, input.replicationConfiguration);
  return { replicationConfiguration: config };
};

const scanningInput = z
  .object({
    scanType: z.enum(['BASIC', 'ENHANCED']).optional(),
    rules: z
      .array(
        z
          .object({
            scanFrequency: z.enum(['SCAN_ON_PUSH', 'CONTINUOUS_SCAN', 'MANUAL']),
            repositoryFilters: z
              .array(z.object({ filter: z.string().min(1).max(255).regex(SCANNING_FILTER), filterType: z.literal('WILDCARD') }).strict())
              .max(100),
          })
          .strict(),
      )
      .max(2)
      .optional(),
  })
  .strict();

export const PutRegistryScanningConfiguration: EcrAction = async (call) => {
  const input = parseInput(scanningInput, call.body);
  const config = await call.registry.config.setScanning(addressedRegistry(call), { scanType: input.scanType ?? 'BASIC', rules: input.rules ?? [] });
  return { registryScanningConfiguration: config };
};

export const GetRegistryScanningConfiguration: EcrAction = async (call) => {
  parseInput(z.object({}).strict(), call.body);
  return { registryId: call.accountId, scanningConfiguration: await call.registry.config.scanning(addressedRegistry(call)) };
};

const batchScanningInput = z.object({ repositoryNames: z.array(repositoryName).min(1).max(25) }).strict();

export const BatchGetRepositoryScanningConfiguration: EcrAction = async (call) => {
  const input = parseInput(batchScanningInput, call.body);
  const scanningConfigurations = [];
  const failures = [];
  for (const name of input.repositoryNames) {
    try {
      const repo = await call.registry.repositories.get(repoScope(call, name));
      const applied = await call.registry.config.scanningFor(addressedRegistry(call), name, repo.settings.scanOnPush);
      scanningConfigurations.push({
        repositoryArn: repositoryArn(call.region, call.accountId, name),
        repositoryName: name,
        scanOnPush: repo.settings.scanOnPush,
        ...applied,
      });
    } catch (e) {
      if (!isRegistryError(e) || e.code !== Codes.NameUnknown) throw e;
      failures.push({ repositoryName: name, failureCode: 'REPOSITORY_NOT_FOUND', failureReason: 'REPOSITORY_NOT_FOUND' });
    }
  }
  return { scanningConfigurations, failures };
};
