/**
 * The metadata contract: the behaviours of every role store that callers rely on, run against
 * every engine (as distribution's storage-driver test suite is). SQLite is the reference; an
 * engine passes when it behaves the same, including under two nodes racing on one database.
 *
 * Use from an engine's test file:
 *
 *   metadataContract('sqlite', async () => ({ open: ..., destroy: ... }));
 *
 * Each test gets a fresh database from the factory and opens two stores on it (two nodes).
 */
import { describe } from 'node:test';
import { auditContract } from './contract-suite-audit.js';
import { contractTest, type NewDatabase } from './contract-fixtures.js';
import { concurrencyContract } from './contract-suite-concurrency.js';
import { creationTemplateContract } from './contract-suite-creation-templates.js';
import { documentsContract } from './contract-suite-documents.js';
import { eventsContract } from './contract-suite-events.js';
import { gcContract } from './contract-suite-gc.js';
import { kmsContract } from './contract-suite-kms.js';
import { manifestContract } from './contract-suite-manifests.js';
import { expiryContract } from './contract-suite-expiry.js';
import { queueContract } from './contract-suite-queue.js';
import { jobTurnsContract } from './contract-suite-job-turns.js';
import { outboxTurnsContract } from './contract-suite-outbox-turns.js';
import { turnReadsContract } from './contract-suite-turn-reads.js';
import { replicationContract } from './contract-suite-replication.js';
import { replicationBackfillsContract } from './contract-suite-backfills.js';
import { pullExclusionsContract } from './contract-suite-pull-exclusions.js';
import { repositoryContract } from './contract-suite-repositories.js';
import { rolesContract } from './contract-suite-roles.js';
import { customerPoliciesContract } from './contract-suite-customer-policies.js';
import { groupsContract } from './contract-suite-groups.js';
import { iamNamesContract } from './contract-suite-iam-names.js';
import { userTagsContract } from './contract-suite-user-tags.js';
import { principalPoliciesContract } from './contract-suite-principal-policies.js';
import { usageContract } from './contract-suite-usage.js';
import { quotaContract } from './contract-suite-quotas.js';
import { consoleContract } from './contract-suite-console.js';
import { archiveContract } from './contract-suite-archive.js';
import { freshReadsContract } from './contract-suite-fresh-reads.js';

export type { ContractDatabase, NewDatabase } from './contract-fixtures.js';

export function metadataContract(name: string, newDatabase: NewDatabase, opts: { skip?: string | false } = {}): void {
  const test = contractTest(newDatabase);
  describe(`metadata contract: ${name}`, { skip: opts.skip ?? false }, () => {
    describe('repositories, tags, uploads and image queries', () => repositoryContract(test));
    describe('manifests and the blob index', () => manifestContract(test));
    describe('lifecycle expiries and transitions', () => expiryContract(test));
    describe('garbage collection', () => gcContract(test));
    describe('jobs, leases, scans, policies and identities', () => queueContract(test));
    describe('job turns between accounts', () => jobTurnsContract(test));
    describe('two nodes on one database', () => concurrencyContract(test));
    describe('kms keys', () => kmsContract(test));
    describe('the event outbox and EventBridge resources', () => eventsContract(test));
    describe('outbox turns between accounts', () => outboxTurnsContract(test));
    describe('bounded reads of the turns', () => turnReadsContract(test));
    describe('usage aggregates and live counts', () => usageContract(test));
    describe('audit trail', () => auditContract(test));
    describe('repository creation templates', () => creationTemplateContract(test));
    describe('roles and OIDC providers', () => rolesContract(test));
    describe('customer managed policies', () => customerPoliciesContract(test));
    describe('IAM groups', () => groupsContract(test));
    describe('IAM names without regard to case', () => iamNamesContract(test));
    describe("IAM users' tags", () => userTagsContract(test));
    describe("a principal's policies in one read", () => principalPoliciesContract(test));
    describe('replication status', () => replicationContract(test));
    describe('replication backfills', () => replicationBackfillsContract(test));
    describe('pull-time update exclusions', () => pullExclusionsContract(test));
    describe('named documents', () => documentsContract(test));
    describe('service quotas', () => quotaContract(test));
    describe('console passwords and sessions', () => consoleContract(test));
    describe('the archive storage class', () => archiveContract(test));
    describe('reads after writes, on either node', () => freshReadsContract(test));
  });
}
