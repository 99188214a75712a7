/**
 * Every constraint ECR Public's service model declares on the input of an operation Berth serves
 * (test/api/model/ecr-public-model-constraints.ts, generated from botocore's service-2.json),
 * refused as ECR Public refuses it: the suite is test/api/model/suite.ts. Then what the model
 * lets through that ECR's would not: registry aliases, unbadged catalog values.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ECR_PUBLIC_API } from '../../src/http/ecr-public/router.js';
import { adminCredentials, type Credentials } from '../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { signedFetch } from './helpers/signed-json.js';
import { OPERATIONS, PUBLIC_MODEL_CONSTRAINTS } from './model/ecr-public-model-constraints.js';
import { PUBLIC_BODIES, PUBLIC_READS, PUBLIC_SEED } from './model/public-requests.js';
import { MUTATING } from './model/requests.js';
import { modelConstraintSuite } from './model/suite.js';

modelConstraintSuite({
  title: 'ECR Public',
  api: ECR_PUBLIC_API,
  constraints: PUBLIC_MODEL_CONSTRAINTS,
  operations: OPERATIONS,
  minOperations: 21,
  bodies: PUBLIC_BODIES,
  mutating: MUTATING,
  seed: PUBLIC_SEED,
  reads: PUBLIC_READS,
});

describe('ECR Public: what its model lets through', () => {
  let berth: BerthInProcess;
  let creds: Credentials;
  const call = (op: string, body: Record<string, unknown>) =>
    signedFetch(berth, creds, { target: `${ECR_PUBLIC_API.targetPrefix}${op}`, body, service: 'ecr-public', region: 'us-east-1' });
  before(async () => {
    berth = await startInProcess();
    creds = adminCredentials(berth);
    assert.equal((await call('CreateRepository', { repositoryName: 'alias/checks' })).status, 200);
  });
  after(async () => berth?.cleanup());

  it('takes a registry alias where the model does (RegistryIdOrAlias): the account id, and no other', async () => {
    const started = await call('InitiateLayerUpload', { registryId: '000000000000', repositoryName: 'alias/checks' });
    assert.equal(started.status, 200, JSON.stringify(started.json));
    for (const op of ['InitiateLayerUpload', 'BatchCheckLayerAvailability', 'PutImage']) {
      const res = await call(op, { ...PUBLIC_BODIES[op], registryId: 'someone-else', repositoryName: 'alias/checks' });
      assert.equal(res.status, 400, op);
      assert.deepEqual(res.json, { __type: 'RegistryNotFoundException', message: "The registry with alias 'someone-else' does not exist" }, op);
    }
    // Where the model says RegistryId, an alias is no registry id.
    const policy = await call('GetRepositoryPolicy', { registryId: 'someone-else', repositoryName: 'alias/checks' });
    assert.equal(policy.json.__type, 'ValidationException');
    assert.match(policy.json.message ?? '', /at 'registryId' failed to satisfy constraint: Member must satisfy regular expression pattern: \[0-9\]\{12\}$/);
  });

  it("refuses ECR's members ECR Public's model lacks", async () => {
    const res = await call('DescribeImages', { repositoryName: 'alias/checks', filter: { tagStatus: 'TAGGED' } });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, { __type: 'SerializationException', message: 'Unrecognized field(s): filter' });
  });

  it('keeps architectures and operating systems the Gallery does not badge, as ECR Public documents', async () => {
    const catalogData = { architectures: ['mips64le'], operatingSystems: ['Plan 9'] };
    const put = await call('PutRepositoryCatalogData', { repositoryName: 'alias/checks', catalogData });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    const got = await call('GetRepositoryCatalogData', { repositoryName: 'alias/checks' });
    assert.deepEqual(got.json, { catalogData: { ...catalogData, marketplaceCertified: false } });
  });
});
