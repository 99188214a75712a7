/**
 * A listing page looks its repository up once. Pages are read 100 images at a time, and each
 * slice used to look the repository up before each of its reads (list, details, scans): on
 * PostgreSQL every lookup is a round trip, 30 of a 1,000-image DescribeImages page's 60 queries.
 * And each slice reads its images' scans as one range (SQLite), which holds scans of images the
 * slice does not show (a tag filter's skipped ones): only the slice's own may come out.
 */
import { DescribeImagesCommand, type ECRClient, type ImageDetail, ListImagesCommand, type TagStatus } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { numberedManifest, pushBlob, pushManifest, sha256 } from '../e2e/helpers/registry-http.js';
import { registryKey } from '../../src/core/registry-key.js';
import type { Digest } from '../../src/core/digest.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const REPO = 'lookups/many';

describe('ECR listing pages', () => {
  let berth: BerthInProcess;
  let ecr: ECRClient;
  before(async () => {
    berth = await startInProcess();
    ecr = ecrClient(berth);
  });
  after(async () => berth?.cleanup());

  it('look the repository up once a page, not once a slice', async () => {
    const config = Buffer.from('{"lookups":true}');
    await pushBlob(berth.url, REPO, config);
    for (let i = 0; i < 250; i++) {
      const m = numberedManifest(config, i);
      assert.equal((await pushManifest(berth.url, REPO, `t${i}`, m, OCI)).status, 201);
    }
    // Every lookup of a repository by name goes through the store's find.
    const meta = berth.app.registry.ctx.meta;
    const repositories = meta.repositories;
    let lookups = 0;
    (meta as { repositories: typeof repositories }).repositories = new Proxy(repositories, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop);
        if (prop !== 'find' || typeof value !== 'function') return value;
        return (key: unknown, name: string) => {
          if (name === REPO) lookups++;
          return (value as (k: unknown, n: string) => unknown).call(target, key, name);
        };
      },
    });
    try {
      const described = await ecr.send(new DescribeImagesCommand({ repositoryName: REPO, maxResults: 1000 }));
      assert.equal(described.imageDetails?.length, 250);
      assert.equal(lookups, 1, `DescribeImages: ${lookups} lookups for a page of three slices`);
      lookups = 0;
      const listed = await ecr.send(new ListImagesCommand({ repositoryName: REPO, maxResults: 1000 }));
      assert.equal(listed.imageIds?.length, 250);
      assert.equal(lookups, 1, 'ListImages: one lookup for a page of three slices');
    } finally {
      (meta as { repositories: typeof repositories }).repositories = repositories;
    }
  });

  it("shows each image's own scan on every page, whatever the page size and tag filter", async () => {
    const repo = 'lookups/scanned';
    const config = Buffer.from('{"scanned":true}');
    await pushBlob(berth.url, repo, config);
    const tagged = new Set<string>();
    for (let i = 0; i < 230; i++) {
      const m = numberedManifest(config, i);
      // Every fourth image untagged (pushed by digest): the TAGGED pages skip them, their scans in range.
      const ref = i % 4 === 0 ? sha256(m) : `s${i}`;
      assert.equal((await pushManifest(berth.url, repo, ref, m, OCI)).status, 201);
      if (i % 4 !== 0) tagged.add(sha256(m));
    }
    const first = await ecr.send(new DescribeImagesCommand({ repositoryName: repo, maxResults: 1 }));
    const meta = berth.app.registry.ctx.meta;
    const record = await meta.repositories.find(registryKey(first.imageDetails![0]!.registryId!, berth.region), repo);
    const all = [...(await ecr.send(new DescribeImagesCommand({ repositoryName: repo, maxResults: 1000 }))).imageDetails!.map((d) => d.imageDigest!)].sort();
    assert.equal(all.length, 230);
    // Every third image in digest order scanned, each with its own description; a job kind no worker takes.
    const scanned = new Map<string, string>();
    for (let i = 0; i < all.length; i += 3) {
      const digest = all[i] as Digest;
      assert.equal(await meta.scans.start(record!.id, digest, { kind: 'test-never-run', payload: {} }, new Date()), 'started');
      await meta.scans.finish(record!.id, digest, { status: 'FAILED', description: `scan of image ${i}` });
      scanned.set(digest, `scan of image ${i}`);
    }
    for (const tagStatus of ['ANY', 'TAGGED', 'UNTAGGED'] as TagStatus[]) {
      const expected = all.filter((d) => tagStatus === 'ANY' || tagged.has(d) === (tagStatus === 'TAGGED'));
      for (const maxResults of [1000, 100, 37]) {
        const seen: ImageDetail[] = [];
        let nextToken: string | undefined;
        do {
          const page = await ecr.send(new DescribeImagesCommand({ repositoryName: repo, maxResults, filter: { tagStatus }, ...(nextToken && { nextToken }) }));
          seen.push(...page.imageDetails!);
          nextToken = page.nextToken;
        } while (nextToken);
        const what = `${tagStatus}, maxResults ${maxResults}`;
        assert.deepEqual(
          seen.map((d) => d.imageDigest),
          expected,
          `${what}: every image once, in digest order`,
        );
        for (const d of seen) {
          const want = scanned.get(d.imageDigest!);
          assert.deepEqual(d.imageScanStatus, want === undefined ? undefined : { status: 'FAILED', description: want }, `${what}: ${d.imageDigest}`);
        }
      }
    }
    // The by-ids form (point reads, any digests) agrees with the pages.
    const some = all.filter((_, i) => i % 5 === 0).slice(0, 40);
    const byIds = await ecr.send(new DescribeImagesCommand({ repositoryName: repo, imageIds: some.map((imageDigest) => ({ imageDigest })) }));
    for (const d of byIds.imageDetails!) assert.equal(d.imageScanStatus?.description, scanned.get(d.imageDigest!));
    assert.equal(byIds.imageDetails!.filter((d) => d.imageScanStatus).length, some.filter((d) => scanned.has(d)).length);
  });
});
