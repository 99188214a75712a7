/**
 * Vulnerability scanning end to end: OSV advisories loaded with `berth vulndb import`, images
 * with a Debian package database and an npm lockfile pushed over /v2, scans on push and on
 * demand read through @aws-sdk/client-ecr (with the ImageScanComplete waiter) and the AWS CLI,
 * continuous re-evaluation after a new advisory, and a hostile layer that fails its scan only.
 */
import {
  CreateRepositoryCommand,
  DescribeImageScanFindingsCommand,
  DescribeImagesCommand,
  PutRegistryScanningConfigurationCommand,
  StartImageScanCommand,
  waitUntilImageScanComplete,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createGzip, gzipSync } from 'node:zlib';
import { hugeZeroFileTar, tar } from '../../src/scan/layers/testing/tar-writer.js';
import { cliPath, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { awsCliEnv, ecrClient } from './helpers/ecr-client.js';
import { pushBlob, pushManifest, request, sha256 } from './helpers/registry-http.js';
import { waitFor } from './helpers/wait-for.js';

const run = promisify(execFile);
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n';
const DPKG_STATUS = [
  ['openssl', '3.0.11-1~deb12u1', 'openssl'],
  ['libssl3', '3.0.11-1~deb12u1', 'openssl'],
  ['zlib1g', '1:1.2.13.dfsg-1', 'zlib'],
  ['bash', '5.2.15-2+b2', 'bash (5.2.15-2)'],
]
  .map(([p, v, src]) => `Package: ${p}\nStatus: install ok installed\nArchitecture: amd64\nSource: ${src}\nVersion: ${v}\nDescription: ${p}\n`)
  .join('\n');
const LOCKFILE = JSON.stringify({
  name: 'app',
  lockfileVersion: 3,
  packages: { '': { name: 'app' }, 'node_modules/lodash': { version: '4.17.20' }, 'node_modules/left-pad': { version: '1.3.0' } },
});

function osv(id: string, ecosystem: string, name: string, events: object[], extra: object = {}): object {
  return {
    id,
    modified: '2026-01-01T00:00:00Z',
    summary: `${name} is vulnerable`,
    affected: [{ package: { ecosystem, name }, ranges: [{ type: 'ECOSYSTEM', events }] }],
    ...extra,
  };
}

const ADVISORIES = [
  osv('DEBIAN-CVE-2024-0001', 'Debian:12', 'openssl', [{ introduced: '0' }, { fixed: '3.0.13-1~deb12u1' }], {
    aliases: ['CVE-2024-0001'],
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
  }),
  osv('DEBIAN-CVE-2022-0002', 'Debian:12', 'zlib', [{ introduced: '0' }, { fixed: '1:1.2.13.dfsg-1' }], { aliases: ['CVE-2022-0002'] }),
  osv('GHSA-aaaa-bbbb-cccc', 'npm', 'lodash', [{ introduced: '0' }, { fixed: '4.17.21' }], {
    aliases: ['CVE-2021-0003'],
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H' }],
  }),
  osv('DEBIAN-CVE-2023-9999', 'Debian:11', 'bash', [{ introduced: '0' }, { fixed: '9.9' }]),
];

describe('vulnerability scanning', () => {
  let berth: BerthProcess;
  let ecr: ECRClient;
  let dir: string;
  let image: string;

  async function pushImage(repo: string, tag: string, layers: Buffer[]): Promise<string> {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    for (const b of [config, ...layers]) assert.equal((await pushBlob(berth.url, repo, b)).status, 201);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(l), size: l.length })),
      }),
    );
    assert.equal((await pushManifest(berth.url, repo, tag, manifest, OCI_MANIFEST)).status, 201);
    return sha256(manifest);
  }

  async function vulndbImport(files: object[], source: string): Promise<string> {
    const d = join(dir, source);
    await mkdir(d, { recursive: true });
    for (const a of files) await writeFile(join(d, `${(a as { id: string }).id}.json`), JSON.stringify(a));
    return (await run(process.execPath, [cliPath, 'vulndb', 'import', d, '--source', source, '--data-dir', berth.dataDir])).stdout;
  }

  before(async () => {
    berth = await startBerth();
    ecr = ecrClient(berth);
    dir = await tempDir('berth-osv-');
    const out = await vulndbImport([...ADVISORIES, { id: 'BROKEN', modified: 'yesterday' }], 'fixtures');
    assert.match(out, /5 records read, 4 new or updated, 1 invalid/);
  });
  after(async () => berth?.cleanup());

  it('scans on push and reports exactly the vulnerable installed versions', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'team/api', imageScanningConfiguration: { scanOnPush: true } }));
    const layer = gzipSync(
      tar([
        { path: 'etc/os-release', data: OS_RELEASE },
        { path: 'var/lib/dpkg/status', data: DPKG_STATUS },
        { path: 'app/package-lock.json', data: LOCKFILE },
      ]),
    );
    image = await pushImage('team/api', 'v1', [layer]);
    await waitUntilImageScanComplete({ client: ecr, maxWaitTime: 300, minDelay: 1, maxDelay: 2 }, { repositoryName: 'team/api', imageId: { imageTag: 'v1' } });
    const res = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'team/api', imageId: { imageTag: 'v1' } }));
    assert.equal(res.imageScanStatus?.status, 'COMPLETE');
    const findings = res.imageScanFindings?.findings ?? [];
    const byName = Object.fromEntries(findings.map((f) => [`${f.name} ${f.attributes?.find((a) => a.key === 'package_name')?.value}`, f]));
    assert.deepEqual(
      Object.keys(byName).sort(),
      ['CVE-2021-0003 lodash', 'CVE-2024-0001 libssl3', 'CVE-2024-0001 openssl'],
      'zlib is fixed, bash is another release, left-pad has no advisory',
    );
    assert.equal(byName['CVE-2024-0001 openssl']!.severity, 'CRITICAL');
    assert.equal(byName['CVE-2021-0003 lodash']!.severity, 'HIGH');
    const attrs = Object.fromEntries(byName['CVE-2024-0001 openssl']!.attributes!.map((a) => [a.key, a.value]));
    assert.equal(attrs.package_version, '3.0.11-1~deb12u1');
    assert.equal(attrs.CVSS3_SCORE, '9.8');
    assert.deepEqual(res.imageScanFindings?.findingSeverityCounts, { CRITICAL: 2, HIGH: 1 });
    assert.ok(res.imageScanFindings?.imageScanCompletedAt instanceof Date);
    assert.ok(res.imageScanFindings?.vulnerabilitySourceUpdatedAt instanceof Date);

    const page = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'team/api', imageId: { imageTag: 'v1' }, maxResults: 2 }));
    assert.equal(page.imageScanFindings?.findings?.length, 2);
    const rest = await ecr.send(
      new DescribeImageScanFindingsCommand({ repositoryName: 'team/api', imageId: { imageTag: 'v1' }, maxResults: 2, nextToken: page.nextToken! }),
    );
    assert.equal(rest.imageScanFindings?.findings?.length, 1);

    const described = await ecr.send(new DescribeImagesCommand({ repositoryName: 'team/api', imageIds: [{ imageTag: 'v1' }] }));
    assert.equal(described.imageDetails?.[0]?.imageScanStatus?.status, 'COMPLETE');
    assert.deepEqual(described.imageDetails?.[0]?.imageScanFindingsSummary?.findingSeverityCounts, { CRITICAL: 2, HIGH: 1 });
    await assert.rejects(
      ecr.send(new StartImageScanCommand({ repositoryName: 'team/api', imageId: { imageTag: 'v1' } })),
      (e: Error) => e.name === 'LimitExceededException' && /scan quota/.test(e.message),
    );
  });

  it('scans on demand, readable from the AWS CLI', async () => {
    const layer = gzipSync(
      tar([
        { path: 'etc/os-release', data: OS_RELEASE },
        { path: 'app/package-lock.json', data: LOCKFILE },
      ]),
    );
    await pushImage('team/manual', 'v1', [layer]);
    await assert.rejects(ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'team/manual', imageId: { imageTag: 'v1' } })), {
      name: 'ScanNotFoundException',
    });
    const env = awsCliEnv(berth);
    const started = JSON.parse(
      (await run('aws', ['ecr', 'start-image-scan', '--repository-name', 'team/manual', '--image-id', 'imageTag=v1', '--output', 'json'], { env })).stdout,
    ) as { imageScanStatus: { status: string } };
    assert.equal(started.imageScanStatus.status, 'IN_PROGRESS');
    await run('aws', ['ecr', 'wait', 'image-scan-complete', '--repository-name', 'team/manual', '--image-id', 'imageTag=v1'], { env });
    const { stdout } = await run(
      'aws',
      [
        'ecr',
        'describe-image-scan-findings',
        '--repository-name',
        'team/manual',
        '--image-id',
        'imageTag=v1',
        '--query',
        'imageScanFindings.findings[].name',
        '--output',
        'json',
      ],
      { env },
    );
    assert.deepEqual(JSON.parse(stdout), ['CVE-2021-0003']);
  });

  it('re-evaluates stored inventories under CONTINUOUS_SCAN when advisories change, without re-reading layers', async () => {
    await ecr.send(
      new PutRegistryScanningConfigurationCommand({
        scanType: 'ENHANCED',
        rules: [{ scanFrequency: 'CONTINUOUS_SCAN', repositoryFilters: [{ filter: 'team/*', filterType: 'WILDCARD' }] }],
      }),
    );
    await vulndbImport(
      [osv('GHSA-left-pad', 'npm', 'left-pad', [{ introduced: '1.0.0' }, { fixed: '1.3.1' }], { database_specific: { severity: 'HIGH' } })],
      'later',
    );
    // Re-evaluation runs in the background: wait for its outcome; the deadline only ends a hang.
    const names = await waitFor('re-evaluation to find GHSA-left-pad', async () => {
      const res = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'team/api', imageId: { imageDigest: image } }));
      const found = (res.imageScanFindings?.enhancedFindings ?? []).map((f) => f.packageVulnerabilityDetails?.vulnerabilityId ?? '');
      return found.includes('GHSA-left-pad') && found;
    });
    assert.ok(names.includes('GHSA-left-pad'), `left-pad found by re-evaluation (got ${names.join(', ')})`);
    const res = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'team/api', imageId: { imageDigest: image } }));
    const leftPad = res.imageScanFindings?.enhancedFindings?.find((f) => f.packageVulnerabilityDetails?.vulnerabilityId === 'GHSA-left-pad');
    assert.equal(leftPad?.severity, 'HIGH');
    assert.equal(leftPad?.fixAvailable, 'YES');
    assert.equal(leftPad?.packageVulnerabilityDetails?.vulnerablePackages?.[0]?.fixedInVersion, '1.3.1');
    const status = (await run(process.execPath, [cliPath, 'vulndb', 'status', '--data-dir', berth.dataDir, '--json'])).stdout;
    assert.deepEqual(
      (JSON.parse(status) as Array<{ name: string; advisories: number }>).map((s) => [s.name, s.advisories]),
      [
        ['fixtures', 4],
        ['later', 1],
      ],
    );
  });

  it('scans a Debian bookworm root file system packed from a real dpkg status, and an Alpine image with Python packages', async () => {
    // This machine is Debian: its package database is a real one, hundreds of packages long.
    const status = await readFile('/var/lib/dpkg/status', 'utf8').catch(() => undefined);
    const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '');
    const id = /^ID=(.*)$/m.exec(osRelease)?.[1]?.replace(/"/g, '');
    const versionId = /^VERSION_ID="?([^"\n]*)"?$/m.exec(osRelease)?.[1];
    // Debian advisories name source packages and source versions ("Source: bash (5.2.15-2)" for a
    // binNMU'd binary "5.2.15-2+b8"): the fix is compared with the source version.
    const stanza = status && /^Package: bash\n(?:[^\n]+\n)*/m.exec(status)?.[0];
    const bash = stanza && (/^Source: bash \((\S+)\)/m.exec(stanza)?.[1] ?? /^Version: (\S+)/m.exec(stanza)?.[1]);
    if (!status || id !== 'debian' || !versionId || !bash) throw new Error('this test needs a Debian machine (as CI is)');
    const eco = `Debian:${versionId}`;
    await vulndbImport(
      [
        osv('DEBIAN-CVE-2026-1000', eco, 'bash', [{ introduced: '0' }, { fixed: `${bash}+zz1` }], { aliases: ['CVE-2026-1000'] }),
        osv('DEBIAN-CVE-2026-1001', eco, 'bash', [{ introduced: '0' }, { fixed: bash }], { aliases: ['CVE-2026-1001'] }),
        osv('ALPINE-CVE-2026-2000', 'Alpine:v3.19', 'musl', [{ introduced: '0' }, { fixed: '1.2.4_git20230717-r5' }], { aliases: ['CVE-2026-2000'] }),
        osv('PYSEC-2026-3000', 'PyPI', 'requests', [{ introduced: '0' }, { fixed: '2.31.0' }], { aliases: ['CVE-2026-3000'] }),
      ],
      'real',
    );
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'base/debian', imageScanningConfiguration: { scanOnPush: true } }));
    await pushImage('base/debian', 'bookworm', [
      gzipSync(
        tar([
          { path: 'etc/os-release', data: osRelease },
          { path: 'var/lib/dpkg/status', data: status },
        ]),
      ),
    ]);
    await waitUntilImageScanComplete(
      { client: ecr, maxWaitTime: 300, minDelay: 1, maxDelay: 2 },
      { repositoryName: 'base/debian', imageId: { imageTag: 'bookworm' } },
    );
    const debian = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'base/debian', imageId: { imageTag: 'bookworm' }, maxResults: 1000 }));
    const debianNames = [
      ...(debian.imageScanFindings?.findings ?? []).map((f) => f.name),
      ...(debian.imageScanFindings?.enhancedFindings ?? []).map((f) => f.packageVulnerabilityDetails?.vulnerabilityId),
    ];
    assert.ok(debianNames.includes('CVE-2026-1000'), 'the installed bash is older than the fix');
    assert.ok(!debianNames.includes('CVE-2026-1001'), 'a fix equal to the installed version is not reported');

    const apk = 'C:Q1abc=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n\nC:Q1def=\nP:busybox\nV:1.36.1-r15\nA:x86_64\no:busybox\n\n';
    const layer = gzipSync(
      tar([
        { path: 'etc/os-release', data: 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n' },
        { path: 'lib/apk/db/installed', data: apk },
        { path: 'usr/lib/python3.11/site-packages/requests-2.25.0.dist-info/METADATA', data: 'Metadata-Version: 2.1\nName: requests\nVersion: 2.25.0\n' },
      ]),
    );
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'base/alpine', imageScanningConfiguration: { scanOnPush: true } }));
    await pushImage('base/alpine', '3.19', [layer]);
    await waitUntilImageScanComplete(
      { client: ecr, maxWaitTime: 300, minDelay: 1, maxDelay: 2 },
      { repositoryName: 'base/alpine', imageId: { imageTag: '3.19' } },
    );
    const alpine = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'base/alpine', imageId: { imageTag: '3.19' } }));
    // The registry is ENHANCED by now (the test before): findings come in the enhanced shape.
    const alpineNames = (alpine.imageScanFindings?.enhancedFindings ?? []).map((f) => f.packageVulnerabilityDetails?.vulnerabilityId).sort();
    assert.deepEqual(alpineNames, ['CVE-2026-2000', 'CVE-2026-3000']);
  });

  it('fails the scan of a hostile layer and keeps serving', async () => {
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'evil/bomb', imageScanningConfiguration: { scanOnPush: true } }));
    // A 512 MiB file of zeros compresses to about 500 KiB: past the decompression ratio limit.
    const chunks: Buffer[] = [];
    for await (const c of hugeZeroFileTar('var/log/lastlog', 512 * 1024 * 1024).pipe(createGzip({ level: 9 }))) chunks.push(c as Buffer);
    const bomb = Buffer.concat(chunks);
    await pushImage('evil/bomb', 'v1', [bomb]);
    await waitUntilImageScanComplete(
      { client: ecr, maxWaitTime: 300, minDelay: 1, maxDelay: 2 },
      { repositoryName: 'evil/bomb', imageId: { imageTag: 'v1' } },
    ).catch(() => undefined);
    const res = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'evil/bomb', imageId: { imageTag: 'v1' } }));
    assert.equal(res.imageScanStatus?.status, 'FAILED');
    assert.match(res.imageScanStatus?.description ?? '', /limit|ratio/i);
    assert.equal((await request(`${berth.url}/v2/`)).status, 200);
  });
});
