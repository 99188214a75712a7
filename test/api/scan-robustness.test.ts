/**
 * The scanner against layers that used to get the better of it, through the real app in process
 * (its event loop is the test's: a scan holding it would hold the test's requests too): a layer
 * of 100,000 tiny files, zstd-compressed, whose scan held the event loop for its whole length
 * (no request answered until it ended), and truncated layers that were scanned as if whole.
 * Images are pushed over raw /v2 HTTP; scans are driven and read with @aws-sdk/client-ecr.
 */
import {
  CreateRepositoryCommand,
  DescribeImageScanFindingsCommand,
  StartImageScanCommand,
  waitUntilImageScanComplete,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { manySmallFilesTar, tar } from '../../src/scan/layers/testing/tar-writer.js';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { pushBlob, pushManifest, request, sha256 } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OS_RELEASE = 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n';
const DPKG_STATUS = 'Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\n';

/** Node 20's zlib has no zstd: the reference CLI compresses, as `docker buildx --compression zstd` would. */
async function zstd(data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile('zstd', ['-3', '-q', '-c'], { encoding: 'buffer', maxBuffer: 1 << 30 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin!.end(data);
  });
}

describe('scanner robustness', () => {
  let berth: BerthInProcess;
  let ecr: ECRClient;

  async function pushImage(repo: string, tag: string, layer: Buffer, layerMediaType: string): Promise<void> {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    for (const b of [config, layer]) assert.equal((await pushBlob(berth.url, repo, b)).status, 201);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: [{ mediaType: layerMediaType, digest: sha256(layer), size: layer.length }],
      }),
    );
    assert.equal((await pushManifest(berth.url, repo, tag, manifest, OCI_MANIFEST)).status, 201);
  }

  async function scanStatus(repo: string, tag: string) {
    const res = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: repo, imageId: { imageTag: tag } }));
    return res.imageScanStatus;
  }

  before(async () => {
    berth = await startInProcess();
    ecr = ecrClient(berth);
  });
  after(async () => berth?.cleanup());

  it('keeps answering requests while it scans a zstd layer of 100,000 files', async (t) => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'load/many-files' }));
    const layer = await zstd(manySmallFilesTar(100_000));
    await pushImage('load/many-files', 'v1', layer, 'application/vnd.oci.image.layer.v1.tar+zstd');
    await ecr.send(new StartImageScanCommand({ repositoryName: 'load/many-files', imageId: { imageTag: 'v1' } }));
    // Requests one after another for as long as the scan runs. A scan on the event loop holds
    // every request until it ends, so at most the one or two sent before it started come back
    // IN_PROGRESS; off the loop, the server answers many while the worker parses.
    let answeredInProgress = 0;
    let status = await scanStatus('load/many-files', 'v1');
    for (; status?.status === 'IN_PROGRESS'; status = await scanStatus('load/many-files', 'v1')) {
      answeredInProgress++;
      assert.equal((await request(`${berth.url}/healthz`)).status, 200);
    }
    t.diagnostic(`${answeredInProgress} status requests answered while the scan was IN_PROGRESS`);
    assert.equal(status?.status, 'COMPLETE', status?.description);
    assert.ok(answeredInProgress >= 10, `only ${answeredInProgress} requests were answered while the scan ran`);
    const findings = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'load/many-files', imageId: { imageTag: 'v1' } }));
    assert.equal(findings.imageScanStatus?.status, 'COMPLETE');
  });

  it('fails the scan of a truncated layer instead of completing it', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'broken/layers', imageScanningConfiguration: { scanOnPush: true } }));
    const files = [
      { path: 'etc/os-release', data: OS_RELEASE },
      { path: 'var/lib/dpkg/status', data: DPKG_STATUS },
      ...Array.from({ length: 200 }, (_, i) => ({ path: `usr/share/doc/f${i}`, data: String(i).repeat(700) })),
    ];
    const whole = gzipSync(tar(files));
    const cases = [
      // The tar stops after its last entry, without the end-of-archive marker; the gzip is whole.
      ['no-end-marker', gzipSync(tar(files, { end: false }))],
      // The gzip stream is cut inside its trailer: every entry and the marker decompress fine.
      ['gzip-cut', whole.subarray(0, whole.length - 6)],
      // Cut mid-entry.
      ['cut-mid-entry', whole.subarray(0, Math.floor(whole.length / 2))],
    ] as const;
    for (const [tag, layer] of cases) await pushImage('broken/layers', tag, layer, 'application/vnd.oci.image.layer.v1.tar+gzip');
    await pushImage('broken/layers', 'whole', whole, 'application/vnd.oci.image.layer.v1.tar+gzip');
    for (const tag of [...cases.map(([t]) => t), 'whole']) {
      await waitUntilImageScanComplete(
        { client: ecr, maxWaitTime: 120, minDelay: 1, maxDelay: 2 },
        { repositoryName: 'broken/layers', imageId: { imageTag: tag } },
      ).catch(() => undefined);
    }
    for (const [tag] of cases) {
      const status = await scanStatus('broken/layers', tag);
      assert.equal(status?.status, 'FAILED', `${tag}: ${status?.description}`);
      assert.match(status?.description ?? '', /truncated|unexpected end/i, tag);
    }
    assert.equal((await scanStatus('broken/layers', 'whole'))?.status, 'COMPLETE', 'the same layer whole scans fine');
  });
});
