/**
 * DescribeRepositories pages through the SDK: the server reads and writes a page 100
 * repositories at a time (http/ecr/sliced-page.ts), so pages that end on, before and after a
 * slice's edge must still list every repository once, in name order, with its own settings.
 */
import { CreateRepositoryCommand, DescribeRepositoriesCommand, type ECRClient, type Repository } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

describe('DescribeRepositories pages', () => {
  let berth: BerthInProcess;
  let ecr: ECRClient;
  before(async () => {
    berth = await startInProcess();
    ecr = ecrClient(berth);
  });
  after(async () => berth?.cleanup());

  async function pages(maxResults?: number): Promise<Repository[][]> {
    const out: Repository[][] = [];
    let nextToken: string | undefined;
    do {
      const page = await ecr.send(new DescribeRepositoriesCommand({ ...(maxResults !== undefined && { maxResults }), ...(nextToken && { nextToken }) }));
      out.push(page.repositories ?? []);
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    return out;
  }

  it('lists every repository once, in name order, whatever the page size', async () => {
    const names: string[] = [];
    // 230 repositories, created out of name order; every seventh immutable and scanned on push.
    for (let i = 0; i < 230; i++) {
      const name = `pages/r${String((i * 37) % 230).padStart(3, '0')}`;
      const special = i % 7 === 0;
      await ecr.send(
        new CreateRepositoryCommand({
          repositoryName: name,
          ...(special && { imageTagMutability: 'IMMUTABLE', imageScanningConfiguration: { scanOnPush: true } }),
        }),
      );
      names.push(name);
    }
    const special = new Set(names.filter((_, i) => i % 7 === 0));
    const sorted = [...names].sort();

    const whole = await pages(1000);
    assert.equal(whole.length, 1);
    assert.deepEqual(
      whole[0]!.map((r) => r.repositoryName),
      sorted,
    );
    for (const r of whole[0]!) {
      const s = special.has(r.repositoryName!);
      assert.equal(r.imageTagMutability, s ? 'IMMUTABLE' : 'MUTABLE', r.repositoryName);
      assert.equal(r.imageScanningConfiguration?.scanOnPush, s, r.repositoryName);
      assert.ok(r.createdAt instanceof Date && !Number.isNaN(r.createdAt.getTime()));
      assert.match(r.repositoryArn!, new RegExp(`:repository/${r.repositoryName}$`));
    }
    const cases: Array<[number | undefined, number[], string]> = [
      [undefined, [100, 100, 30], 'the default page is 100'],
      [110, [110, 110, 10], 'a page across a slice edge'],
      [115, [115, 115], 'no empty page after a page that ends with the last repository'],
      [130, [130, 100], 'the last repository ends a slice of the second page: no token, no empty page'],
      [230, [230], 'one page of exactly all'],
      [229, [229, 1], 'one left over'],
    ];
    for (const [maxResults, lengths, why] of cases) {
      const got = await pages(maxResults);
      assert.deepEqual(
        got.map((p) => p.length),
        lengths,
        why,
      );
      assert.deepEqual(got.flat(), whole[0], why);
    }
  });
});
