/**
 * A listing page looks its repository up once. Pages are read 100 images at a time, and each
 * slice used to look the repository up before each of its reads (list, details, scans): on
 * PostgreSQL every lookup is a round trip, 30 of a 1,000-image DescribeImages page's 60 queries.
 */
import { DescribeImagesCommand, type ECRClient, ListImagesCommand } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { pushBlob, pushManifest, sha256 } from '../e2e/helpers/registry-http.js';
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
      const m = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
          layers: [],
          annotations: { n: String(i) },
        }),
      );
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
});
