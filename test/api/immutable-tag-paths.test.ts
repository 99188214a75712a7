/**
 * Every path that could move an immutable tag, probed from outside: /v2 manifest PUTs by tag and
 * by digest with `?tag=`, PutImage with and without `imageDigest`, racing pushes of one new tag,
 * a tag deleted then pushed again (ECR allows it), the exclusion filters' wildcards both ways,
 * and the identical re-push (no error on /v2; ImageAlreadyExistsException from PutImage, as
 * ECR answers). And a manifest PUT whose connection drops mid-body leaves nothing behind.
 */
import {
  BatchDeleteImageCommand,
  CreateRepositoryCommand,
  DescribeImagesCommand,
  PutImageCommand,
  PutImageTagMutabilityCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { MediaTypes } from '../e2e/helpers/oci-layout.js';
import { openRaw } from '../e2e/helpers/raw-socket.js';
import { errorCode, getManifest, numberedManifest, pushBlob, pushManifest, sha256 } from '../e2e/helpers/registry-http.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

describe('immutable tags probed from outside', () => {
  let berth: BerthInProcess;
  let ecr: ECRClient;
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const image = (n: number) => numberedManifest(config, n);

  const put = (repo: string, ref: string, bytes: Buffer) => pushManifest(berth.url, repo, ref, bytes, MediaTypes.manifest);
  const tagged = async (repo: string, tag: string): Promise<string | number> => {
    const res = await getManifest(berth.url, repo, tag);
    return res.status === 200 ? sha256(res.body) : res.status;
  };
  const repository = async (name: string, settings: Partial<ConstructorParameters<typeof CreateRepositoryCommand>[0]> = {}) => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: name, ...settings }));
    assert.equal((await pushBlob(berth.url, name, config)).status, 201);
  };

  before(async () => {
    berth = await startInProcess({ env: { BERTH_LOG_LEVEL: 'info' } });
    ecr = ecrClient(berth);
  });
  after(async () => berth?.cleanup());

  it('no push path moves an immutable tag; an identical push is no move', async () => {
    const repo = 'imm/all';
    await repository(repo, { imageTagMutability: 'IMMUTABLE' });
    const [a, b] = [image(1), image(2)];
    assert.equal((await put(repo, 'v1', a)).status, 201);

    const byTag = await put(repo, 'v1', b);
    assert.deepEqual([byTag.status, errorCode(byTag)], [400, 'TAG_INVALID']);
    const byDigest = await pushManifest(berth.url, repo, `${sha256(b)}?tag=v1`, b, MediaTypes.manifest);
    assert.deepEqual([byDigest.status, errorCode(byDigest)], [400, 'TAG_INVALID']);
    assert.equal((await getManifest(berth.url, repo, sha256(b))).status, 404, 'the refused push by digest stored nothing');
    for (const imageDigest of [undefined, sha256(b)]) {
      await assert.rejects(
        ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: b.toString(), imageTag: 'v1', ...(imageDigest && { imageDigest }) })),
        { name: 'ImageTagAlreadyExistsException' },
      );
    }
    await assert.rejects(ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: b.toString(), imageTag: 'v1', imageDigest: sha256(a) })), {
      name: 'ImageDigestDoesNotMatchException',
    });
    assert.equal(await tagged(repo, 'v1'), sha256(a));

    // The same image again: /v2 accepts it (docker re-pushes); PutImage says it exists, as ECR does.
    assert.equal((await put(repo, 'v1', a)).status, 201);
    await assert.rejects(ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: a.toString(), imageTag: 'v1' })), {
      name: 'ImageAlreadyExistsException',
    });
    assert.equal(await tagged(repo, 'v1'), sha256(a));
  });

  it('racing first pushes of one tag: exactly one image gets it', async () => {
    const repo = 'imm/race';
    await repository(repo, { imageTagMutability: 'IMMUTABLE' });
    const candidates = Array.from({ length: 8 }, (_, i) => image(100 + i));
    const answers = await Promise.all(candidates.map((m) => put(repo, 'release', m)));
    const winners = candidates.filter((_, i) => answers[i]!.status === 201);
    assert.equal(winners.length, 1, JSON.stringify(answers.map((r) => r.status)));
    assert.deepEqual(answers.filter((r) => r.status !== 201).map(errorCode), Array(7).fill('TAG_INVALID'));
    assert.equal(await tagged(repo, 'release'), sha256(winners[0]!));
  });

  it('a deleted tag may be pushed again, by image or by tag alone (ECR allows it)', async () => {
    const repo = 'imm/deleted';
    await repository(repo, { imageTagMutability: 'IMMUTABLE' });
    const [a, b, c] = [image(11), image(12), image(13)];
    assert.equal((await put(repo, 'v1', a)).status, 201);
    await ecr.send(new BatchDeleteImageCommand({ repositoryName: repo, imageIds: [{ imageDigest: sha256(a) }] }));
    assert.equal((await put(repo, 'v1', b)).status, 201, 'the image and its tag were deleted: the tag is free');
    assert.equal(await tagged(repo, 'v1'), sha256(b));

    // Untagging leaves the image (it has another tag) and frees the name.
    await ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: b.toString(), imageTag: 'alias' }));
    const out = await ecr.send(new BatchDeleteImageCommand({ repositoryName: repo, imageIds: [{ imageTag: 'v1' }] }));
    assert.deepEqual(out.failures, []);
    await ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: c.toString(), imageTag: 'v1' }));
    assert.equal(await tagged(repo, 'v1'), sha256(c));
    assert.equal(await tagged(repo, 'alias'), sha256(b));
  });

  it('exclusion filters: IMMUTABLE_WITH_EXCLUSION frees only the matching tags, MUTABLE_WITH_EXCLUSION holds only them, anchored at both ends', async () => {
    const moves = async (repo: string, tag: string, n: number): Promise<boolean> => {
      assert.equal((await put(repo, tag, image(n))).status, 201, `first push of ${tag}`);
      const second = await put(repo, tag, image(n + 1));
      if (second.status === 201) return true;
      assert.deepEqual([second.status, errorCode(second)], [400, 'TAG_INVALID']);
      assert.equal(await tagged(repo, tag), sha256(image(n)));
      return false;
    };
    await repository('imm/except', {
      imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
      imageTagMutabilityExclusionFilters: [
        { filterType: 'WILDCARD', filter: 'latest' },
        { filterType: 'WILDCARD', filter: 'dev-*' },
        { filterType: 'WILDCARD', filter: '*-rc*' },
      ],
    });
    const cases: Array<[string, boolean]> = [
      ['latest', true],
      ['dev-42', true],
      ['1.0-rc1', true],
      ['latest2', false],
      ['my-latest', false],
      ['dev', false],
      ['1.0', false],
      ['v.rc', false],
    ];
    let n = 200;
    for (const [tag, expected] of cases) assert.equal(await moves('imm/except', tag, (n += 2)), expected, `IMMUTABLE_WITH_EXCLUSION: ${tag}`);

    await repository('imm/held', {
      imageTagMutability: 'MUTABLE_WITH_EXCLUSION',
      imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'release-*' }],
    });
    for (const [tag, expected] of [
      ['release-1', false],
      ['release', true],
      ['prerelease-1', true],
      ['latest', true],
    ] as Array<[string, boolean]>) {
      assert.equal(await moves('imm/held', tag, (n += 2)), expected, `MUTABLE_WITH_EXCLUSION: ${tag}`);
    }

    // Turning immutability on holds every tag from then on, whatever pushed it before.
    await ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'imm/held', imageTagMutability: 'IMMUTABLE' }));
    const latest = await put('imm/held', 'latest', image(999));
    assert.deepEqual([latest.status, errorCode(latest)], [400, 'TAG_INVALID']);
  });

  it('a manifest PUT whose connection drops mid-body leaves no image and no tag', async () => {
    const repo = 'imm/half';
    await repository(repo);
    const whole = image(500);
    const conn = await openRaw(berth.port);
    conn.socket.write(
      `PUT /v2/${repo}/manifests/half HTTP/1.1\r\nHost: ${berth.host}\r\nAuthorization: ${berth.authorization}\r\n` +
        `Content-Type: ${MediaTypes.manifest}\r\nContent-Length: ${whole.length}\r\n\r\n`,
    );
    conn.socket.write(whole.subarray(0, Math.floor(whole.length / 2)));
    conn.socket.destroy();
    // The access log line is written when the server closed the request: what it did is done.
    await waitFor('the server to log the dropped PUT', () =>
      berth
        .output()
        .split('\n')
        .some((l) => l.includes(`/v2/${repo}/manifests/half`) && l.includes('"aborted":true')),
    );
    assert.equal((await getManifest(berth.url, repo, 'half')).status, 404);
    assert.equal((await getManifest(berth.url, repo, sha256(whole))).status, 404);
    const { imageDetails } = await ecr.send(new DescribeImagesCommand({ repositoryName: repo }));
    assert.deepEqual(imageDetails, []);
    assert.equal((await put(repo, 'half', whole)).status, 201, 'the same push, whole, then succeeds');
  });
});
