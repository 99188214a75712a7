/**
 * The web console in a real browser (Debian's Chromium through playwright-core) against a real
 * Berth: sign in with the admin's access key, create a repository, see an image that skopeo pushed
 * with its scan findings, edit a lifecycle rule and preview what would expire, see a policy error
 * inline, check that a ReadOnly user is offered no delete, and sign out. Each main page is
 * screenshotted to docs/console/ (linked from the README). One browser for the file.
 */
import {
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  GetRepositoryPolicyCommand,
  type ECRClient,
  PutRegistryScanningConfigurationCommand,
  waitUntilImageScanComplete,
} from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { type BerthProcess, cliPath, startBerth, tempDir } from '../e2e/helpers/berth-process.js';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { createUser } from '../e2e/helpers/iam-users.js';
import { buildImageLayout } from '../e2e/helpers/oci-layout.js';
import { createSkopeo, type Skopeo } from '../e2e/helpers/skopeo.js';
import { launch, newPage, screenshot, signInWithKeys, text, watchErrors } from './helpers/browser.js';

const run = promisify(execFile);

const OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n';
const DPKG_STATUS = [
  ['openssl', '3.0.11-1~deb12u1', 'openssl'],
  ['zlib1g', '1:1.2.13.dfsg-1', 'zlib'],
]
  .map(([p, v, src]) => `Package: ${p}\nStatus: install ok installed\nArchitecture: amd64\nSource: ${src}\nVersion: ${v}\nDescription: ${p}\n`)
  .join('\n');
/** One advisory that the image's openssl is affected by (critical), as `berth vulndb import` reads OSV. */
const ADVISORY = {
  id: 'DEBIAN-CVE-2024-0001',
  modified: '2026-01-01T00:00:00Z',
  summary: 'openssl is vulnerable',
  aliases: ['CVE-2024-0001'],
  severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
  affected: [
    { package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.13-1~deb12u1' }] }] },
  ],
};

/** Every container of permission-guarded buttons on the page has the server's answer (aria-busy="false"). */
async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => document.querySelectorAll('[aria-busy="true"]').length === 0 && document.querySelector('[aria-busy="false"]') !== null);
}

describe('web console in a browser', () => {
  let berth: BerthProcess;
  let ecr: ECRClient;
  let skopeo: Skopeo;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let dir: string;

  before(async () => {
    [berth, skopeo, browser, dir] = await Promise.all([startBerth(), createSkopeo(), launch(), tempDir('berth-console-')]);
    ecr = ecrClient(berth);
    const osv = join(dir, 'osv');
    await mkdir(osv);
    await writeFile(join(osv, `${ADVISORY.id}.json`), JSON.stringify(ADVISORY));
    await run(process.execPath, [cliPath, 'vulndb', 'import', osv, '--source', 'fixtures', '--data-dir', berth.dataDir]);
    // Enhanced findings name the fixed version too (basic ones carry the installed version only).
    await ecr.send(
      new PutRegistryScanningConfigurationCommand({
        scanType: 'ENHANCED',
        rules: [{ scanFrequency: 'SCAN_ON_PUSH', repositoryFilters: [{ filter: '*', filterType: 'WILDCARD' }] }],
      }),
    );
    ({ page } = await newPage(browser));
    errors = watchErrors(page);
  });
  after(async () => {
    await browser?.close();
    await skopeo?.cleanup();
    await berth?.cleanup();
  });

  it('signs in with an access key and lists repositories', async () => {
    await page.goto(`${berth.url}/console/`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await screenshot(page, 'sign-in');
    // A wrong secret is refused with the server's message, and nothing is signed in.
    const keys = adminCredentials(berth);
    await page.getByLabel('Access key ID').fill(keys.accessKeyId);
    await page.getByLabel('Secret access key').fill('not-the-secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.match(await text(page.getByRole('alert')), /not valid/);
    await signInWithKeys(page, berth.url, keys);
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 1);
  });

  it('creates a repository with scan on push and immutable tags', async () => {
    await page.getByRole('button', { name: 'Create repository' }).click();
    await page.getByLabel('Repository name').fill('team/web');
    await page.getByLabel('Tag mutability').selectOption('IMMUTABLE_WITH_EXCLUSION');
    await page.getByLabel('Exclusion filters').fill('latest');
    await page.getByLabel('Scan on push').check();
    await screenshot(page, 'create-repository');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('link', { name: 'team/web' }).waitFor();

    const [repo] = (await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['team/web'] }))).repositories!;
    assert.equal(repo!.imageTagMutability, 'IMMUTABLE_WITH_EXCLUSION');
    assert.deepEqual(repo!.imageTagMutabilityExclusionFilters, [{ filterType: 'WILDCARD', filter: 'latest' }]);
    assert.equal(repo!.imageScanningConfiguration?.scanOnPush, true);

    // The same name again: ECR's error, in words.
    await page.getByRole('button', { name: 'Create repository' }).click();
    await page.getByLabel('Repository name').fill('team/web');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    assert.match(await text(page.getByRole('alert')), /A repository of this name already exists/);
    await page.getByRole('button', { name: 'Create repository' }).click();
    await screenshot(page, 'repositories');
  });

  it('shows an image pushed by skopeo with its scan findings', async () => {
    const layout = join(dir, 'layout');
    const files = (extra: string) => [
      [
        { name: 'etc/' },
        { name: 'etc/os-release', content: Buffer.from(OS_RELEASE) },
        { name: 'var/' },
        { name: 'var/lib/' },
        { name: 'var/lib/dpkg/' },
        { name: 'var/lib/dpkg/status', content: Buffer.from(DPKG_STATUS) },
        { name: 'srv/' },
        { name: 'srv/build.txt', content: Buffer.from(extra) },
      ],
    ];
    await buildImageLayout(layout, { tag: 'v1', layers: 1, layerBytes: 4096, fileLayers: files('v1'), created: '2026-11-01T00:00:00Z' });
    await buildImageLayout(layout, { tag: 'v2', layers: 1, layerBytes: 4096, fileLayers: files('v2'), created: '2026-11-02T00:00:00Z' });
    for (const tag of ['v1', 'v2']) {
      await skopeo.copy(`oci:${layout}:${tag}`, `docker://${berth.host}/team/web:${tag}`);
      await waitUntilImageScanComplete({ client: ecr, maxWaitTime: 300, minDelay: 1, maxDelay: 2 }, { repositoryName: 'team/web', imageId: { imageTag: tag } });
    }
    const described = await ecr.send(new DescribeImagesCommand({ repositoryName: 'team/web', imageIds: [{ imageTag: 'v1' }] }));
    const digest = described.imageDetails![0]!.imageDigest!;

    await page.getByRole('link', { name: 'team/web' }).click();
    await page.getByRole('heading', { name: 'team/web', level: 1 }).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'v1' });
    await row.getByText('COMPLETE').waitFor();
    assert.match(await text(row), /1 critical/);
    await page.getByRole('button', { name: 'View push commands' }).click();
    const commands = await text(page.getByRole('figure', { name: 'Push commands' }));
    assert.match(commands, new RegExp(`--endpoint-url ${berth.url}`));
    assert.match(commands, new RegExp(`docker push ${berth.host}/team/web:latest`));
    await screenshot(page, 'images');
    // At a phone's width the list still names each image and its scan.
    await page.setViewportSize({ width: 390, height: 844 });
    assert.ok(await row.getByText('1 critical').isVisible());
    await screenshot(page, 'phone');
    await page.setViewportSize({ width: 1280, height: 860 });

    await row.getByRole('link', { name: digest.slice(0, 19) }).click();
    await page.getByRole('heading', { name: 'Scan findings' }).waitFor();
    const finding = page.getByRole('row').filter({ hasText: 'CVE-2024-0001' });
    await finding.waitFor();
    const found = await text(finding);
    assert.match(found, /CRITICAL/);
    assert.match(found, /openssl/);
    assert.match(found, /3\.0\.11-1~deb12u1/, 'installed');
    assert.match(found, /3\.0\.13-1~deb12u1/, 'fixed');
    assert.equal(await finding.getByRole('link', { name: 'CVE-2024-0001' }).count(), 1);
    assert.equal(await page.getByRole('heading', { name: 'Layers' }).count(), 1);
    assert.match(await text(page.getByRole('figure', { name: 'Manifest' })), /application\/vnd\.oci\.image\.config\.v1\+json/);
    // The severity filter hides what does not match.
    await page.getByLabel('Severity').selectOption('LOW');
    assert.equal(await page.getByRole('row').filter({ hasText: 'CVE-2024-0001' }).count(), 0);
    await page.getByLabel('Severity').selectOption('ALL');
    await screenshot(page, 'image-findings');
  });

  it('writes a lifecycle rule and previews what would expire', async () => {
    await page.goto(`${berth.url}/console/repositories/team/web/-/lifecycle`);
    await page.getByLabel('Tag status').selectOption('any');
    await page.getByLabel('Count type').selectOption('imageCountMoreThan');
    await page.getByLabel('Count number').fill('1');
    await page.getByLabel('Description').fill('keep the newest image');
    await page.getByRole('button', { name: 'Preview' }).click();
    const preview = page.getByRole('region', { name: 'Preview: what would expire' });
    await preview.getByRole('row').filter({ hasText: 'v1' }).waitFor();
    assert.equal(await preview.getByRole('row').filter({ hasText: 'v2' }).count(), 0, 'the newest image stays');
    await screenshot(page, 'lifecycle');
    // A preview changes nothing: both images are still there.
    const images = await ecr.send(new DescribeImagesCommand({ repositoryName: 'team/web' }));
    assert.equal(images.imageDetails?.length, 2);
  });

  it('shows a repository policy error inline and saves a valid one', async () => {
    await page.getByRole('link', { name: 'Permissions' }).click();
    const editor = page.getByLabel('Repository policy');
    await editor.fill('{"Statement": [');
    assert.match(await text(page.locator('#policy-error')), /Not valid JSON/);
    assert.equal(await page.getByRole('button', { name: 'Save policy' }).isDisabled(), true);
    // Valid JSON that the server refuses: its message appears in the same place.
    await editor.fill(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Perhaps', Principal: '*', Action: 'ecr:BatchGetImage' }] }));
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page
      .locator('#policy-error')
      .filter({ hasText: /Invalid|Effect|policy/i })
      .waitFor();
    assert.equal(await editor.getAttribute('aria-invalid'), 'true');
    await screenshot(page, 'permissions');
    // The refused policy changed nothing.
    await assert.rejects(ecr.send(new GetRepositoryPolicyCommand({ repositoryName: 'team/web' })), { name: 'RepositoryPolicyNotFoundException' });
    // A valid policy is saved, and ECR returns it.
    const policy = {
      Version: '2012-10-17',
      Statement: [{ Sid: 'pull', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'ecr:BatchGetImage' }],
    };
    await editor.fill(JSON.stringify(policy));
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByRole('status').filter({ hasText: 'Policy saved.' }).waitFor();
    const saved = await ecr.send(new GetRepositoryPolicyCommand({ repositoryName: 'team/web' }));
    assert.equal((JSON.parse(saved.policyText!) as typeof policy).Statement[0]!.Sid, 'pull');
  });

  it('shows the IAM, replication and usage pages', async () => {
    await page.getByRole('link', { name: 'IAM' }).click();
    await page.getByRole('heading', { name: 'IAM users' }).waitFor();
    await page.getByLabel('New user name').fill('viewer');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('button', { name: 'Attach policy' }).waitFor();
    await page.getByLabel('Managed policy').selectOption({ label: 'AmazonEC2ContainerRegistryReadOnly' });
    await page.getByRole('button', { name: 'Attach policy' }).click();
    await page.getByRole('button', { name: 'Detach AmazonEC2ContainerRegistryReadOnly' }).waitFor();
    await page.getByLabel('New console password').fill('first-Password-1');
    await page.getByRole('button', { name: /Set password/ }).click();
    await page.getByText('This user may sign in with a password.').waitFor();
    await screenshot(page, 'iam');
    await page.getByRole('link', { name: 'Replication & cache' }).click();
    await page.getByRole('heading', { name: 'Pull-through cache rules' }).waitFor();
    await screenshot(page, 'replication');
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('columnheader', { name: 'Storage (latest)' }).waitFor();
    await screenshot(page, 'usage');
  });

  it('offers a ReadOnly user no delete, create or policy edit', async () => {
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    const reader = await createUser(berth, iam, 'reader', ['ReadOnly']);
    const { context, page: p } = await newPage(browser);
    try {
      await signInWithKeys(p, berth.url, reader.keys);
      await p.getByRole('link', { name: 'team/web' }).waitFor();
      // Buttons appear once the server said what the principal may do: wait for that answer.
      await settled(p);
      assert.equal(await p.getByRole('button', { name: 'Create repository' }).count(), 0);
      await p.getByRole('link', { name: 'team/web' }).click();
      await p.getByRole('row').filter({ hasText: 'v2' }).waitFor();
      await settled(p);
      assert.equal(await p.getByRole('button', { name: 'Delete repository' }).count(), 0);
      assert.equal(await p.getByRole('button', { name: 'Delete selected images' }).count(), 0);
      assert.equal(await p.getByRole('checkbox').count(), 0);
      assert.equal(await p.getByRole('button', { name: 'View push commands' }).count(), 1, 'what a reader may use is there');
      await p.getByRole('row').filter({ hasText: 'v2' }).getByRole('link').click();
      await p.getByRole('heading', { name: 'Scan findings' }).waitFor();
      await settled(p);
      assert.equal(await p.getByRole('button', { name: 'Delete image' }).count(), 0);
      assert.equal(await p.getByRole('button', { name: 'Scan now' }).count(), 0);
      await p.goto(`${berth.url}/console/repositories/team/web/-/permissions`);
      await p.getByLabel('Repository policy').waitFor();
      await settled(p);
      assert.equal(await p.getByRole('button', { name: 'Save policy' }).count(), 0);
      // And the server refuses what the page does not offer: a delete sent anyway, with the session's own token.
      const refused = await p.evaluate(async () => {
        const session = (await (await fetch('/console/api/session')).json()) as { csrfToken: string };
        const res = await fetch('/console/api/ecr', {
          method: 'POST',
          headers: {
            'X-Berth-Csrf': session.csrfToken,
            'X-Amz-Target': 'AmazonEC2ContainerRegistry_V20150921.DeleteRepository',
            'Content-Type': 'application/x-amz-json-1.1',
          },
          body: JSON.stringify({ repositoryName: 'team/web', force: true }),
        });
        return { status: res.status, body: (await res.json()) as { __type?: string } };
      });
      assert.ok(refused.status === 400 || refused.status === 403, String(refused.status));
      assert.match(refused.body.__type ?? '', /AccessDenied/);
      assert.equal((await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['team/web'] }))).repositories?.length, 1);
      await screenshot(p, 'read-only');
    } finally {
      await context.close();
    }
  });

  it("signs in with an IAM user's console password, changing it first as required", async () => {
    const { context, page: p } = await newPage(browser);
    try {
      await p.goto(`${berth.url}/console/`);
      await p.getByRole('button', { name: 'IAM user password' }).click();
      await p.getByLabel('Account ID').fill('000000000000');
      await p.getByLabel('User name').fill('viewer');
      await p.getByLabel('Password', { exact: true }).fill('first-Password-1');
      await p.getByRole('button', { name: 'Sign in' }).click();
      // The password was right but must be changed: the form asks for a new one.
      await p.getByLabel('New password').fill('second-Password-2');
      assert.match(await text(p.getByRole('alert')), /Choose a new password/);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByRole('heading', { name: 'Repositories', level: 1 }).waitFor();
      assert.match(await text(p.locator('.who')), /user\/viewer/);
    } finally {
      await context.close();
    }
  });

  it('searches every repository, not only the page shown', async () => {
    // 120 names that sort before the one searched for: it is not on the first page of 100.
    for (let i = 0; i < 120; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, (_, j) => ecr.send(new CreateRepositoryCommand({ repositoryName: `fill/${String(i + j).padStart(3, '0')}` }))),
      );
    }
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'zz-needle/app' }));
    await page.goto(`${berth.url}/console/`);
    await page.getByRole('link', { name: 'fill/000' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'zz-needle/app' }).count(), 0, 'not on the first page');
    await page.getByLabel('Search repositories').fill('needle');
    await page.getByRole('link', { name: 'zz-needle/app' }).waitFor();
    const status = await text(page.getByRole('status').filter({ hasText: 'repositories match' }));
    const total = Number(/^1 of (\d+) repositories match/.exec(status)?.[1]);
    assert.ok(total >= 122, `the search read every repository: ${status}`);
    assert.equal(await page.getByRole('link', { name: 'fill/000' }).count(), 0);
    await page.getByLabel('Search repositories').fill('');
    await page.getByRole('link', { name: 'fill/000' }).waitFor();
  });

  it('signs out, and the session is gone', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.goto(`${berth.url}/console/repositories/team/web`);
    await page.getByLabel('Access key ID').waitFor();
    assert.equal(await page.getByRole('link', { name: 'team/web' }).count(), 0);
    assert.deepEqual(
      errors.filter((e) => !/Failed to load resource/.test(e)),
      [],
      'no script error and no Content-Security-Policy violation',
    );
  });
});
