/**
 * What the routers note about each request (http/request-facts.ts), as its observers see it: the
 * access log line names the operation, the principal and the refusal for every door.
 */
import { CreateRepositoryCommand, DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

interface Line {
  requestId?: string;
  operation?: string;
  principal?: string;
  status?: number;
  deniedAction?: string;
  msg?: string;
}

describe('request facts', () => {
  let berth: BerthInProcess;
  before(async () => {
    berth = await startInProcess({ env: { BERTH_LOG_LEVEL: 'info' } });
  });
  after(async () => berth?.cleanup());

  const lineFor = (requestId: string): Promise<Line> =>
    waitFor(`the access log line of ${requestId}`, () =>
      berth
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Line)
        .find((l) => l.msg === 'request' && l.requestId === requestId),
    );

  it('names the JSON API operation and the signing principal', async () => {
    const ecr = ecrClient(berth);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'facts/app' }));
    const out = await ecr.send(new DescribeRepositoriesCommand({}));
    const line = await lineFor(out.$metadata.requestId!);
    assert.equal(line.operation, 'DescribeRepositories');
    assert.equal(line.principal, 'arn:aws:iam::000000000000:root');
  });

  it('names the /v2 operation and the token principal, and an anonymous refusal', async () => {
    const res = await fetch(`${berth.url}/v2/facts/app/manifests/missing`, { headers: { authorization: berth.authorization } });
    assert.equal(res.status, 404);
    const line = await lineFor(res.headers.get('x-amzn-requestid')!);
    assert.equal(line.operation, 'manifest-read');
    assert.equal(line.principal, 'arn:aws:iam::000000000000:root');

    const anon = await fetch(`${berth.url}/v2/facts/app/tags/list`);
    assert.equal(anon.status, 401);
    const anonLine = await lineFor(anon.headers.get('x-amzn-requestid')!);
    assert.equal(anonLine.operation, 'tags');
    assert.equal(anonLine.principal, 'anonymous');
  });
});
