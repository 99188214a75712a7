/**
 * Strings a pusher or a policy writer chooses are shown by the console as text, never as markup:
 * an image's annotations and config labels (keys and values), a layer's annotations, a repository
 * policy's condition values and a lifecycle rule's description, each carrying an `<img onerror>`
 * and a `<script>`, read on every page that shows them in a real browser (Chromium). Nothing of
 * them becomes an element, nothing runs, and the Content-Security-Policy had nothing to block.
 */
import { CreateRepositoryCommand, PutImageCommand, PutLifecyclePolicyCommand, SetRepositoryPolicyCommand } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startInProcess, type BerthInProcess } from '../api/helpers/in-process.js';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { pushBlob, sha256 } from '../e2e/helpers/registry-http.js';
import { launch, newPage, signInWithKeys, watchErrors } from './helpers/browser.js';

const REPO = 'markup/probe';
/** Markup that would set window.__xss to n if it ever became elements (and the CSP let it run). */
const payload = (n: number) => `"><img src=x data-xss="${n}" onerror="window.__xss=${n}"><script data-xss="${n}">window.__xss=${n}</script>`;

describe('user-chosen strings in the console', () => {
  let berth: BerthInProcess;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let digest: string;

  before(async () => {
    [berth, browser] = await Promise.all([startInProcess(), launch()]);
    const ecr = ecrClient(berth);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: REPO }));
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Labels: { [payload(1)]: payload(2), 'org.opencontainers.image.description': payload(3) } },
        rootfs: { type: 'layers', diff_ids: [] },
      }),
    );
    const layer = Buffer.from('a layer');
    for (const b of [config, layer]) assert.equal((await pushBlob(berth.url, REPO, b)).status, 201);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length, annotations: { [payload(4)]: payload(5) } }],
      annotations: { 'org.opencontainers.image.title': payload(6), [payload(7)]: payload(8) },
    });
    await ecr.send(new PutImageCommand({ repositoryName: REPO, imageManifest: manifest, imageTag: 'v1' }));
    digest = sha256(manifest);
    const statement = {
      Sid: 'Markup',
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::000000000000:root' },
      Action: 'ecr:BatchGetImage',
      Condition: { StringEquals: { 'aws:username': payload(9) } },
    };
    await ecr.send(new SetRepositoryPolicyCommand({ repositoryName: REPO, policyText: JSON.stringify({ Version: '2012-10-17', Statement: [statement] }) }));
    const rule = {
      rulePriority: 1,
      description: payload(10),
      selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 5 },
      action: { type: 'expire' },
    };
    await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: REPO, lifecyclePolicyText: JSON.stringify({ rules: [rule] }) }));
    ({ page } = await newPage(browser));
    errors = watchErrors(page);
    await signInWithKeys(page, berth.url, adminCredentials(berth));
  });
  after(async () => {
    await browser?.close();
    await berth?.cleanup();
  });

  /** The page's markup made of the payloads, and whether any of it ran. */
  async function injected(): Promise<{ ran: unknown; elements: number }> {
    return page.evaluate(() => ({
      ran: (window as unknown as { __xss?: unknown }).__xss,
      elements: document.querySelectorAll('[data-xss], img[src="x"]').length,
    }));
  }

  it('shows them as text on the image, lifecycle and permissions pages', async () => {
    const pages: Array<[string, string, number]> = [
      // The page, a payload it must show, and its number.
      [`/console/repositories/${REPO}/-/images/${digest}`, 'the image title annotation', 6],
      [`/console/repositories/${REPO}/-/lifecycle`, 'the rule description', 10],
      [`/console/repositories/${REPO}/-/permissions`, 'the policy condition', 9],
    ];
    for (const [path, what, n] of pages) {
      await page.goto(`${berth.url}${path}`);
      // Shown (as text, escaped in the serialized DOM), so the page did render the string.
      await page.waitForFunction((mark) => document.documentElement.outerHTML.includes(mark), `window.__xss=${n}&lt;/script&gt;`);
      assert.deepEqual(await injected(), { ran: undefined, elements: 0 }, `${path}: ${what}`);
    }
    await page.goto(`${berth.url}/console/repositories/${REPO}`);
    await page.getByRole('heading', { name: REPO, level: 1 }).waitFor();
    assert.deepEqual(await injected(), { ran: undefined, elements: 0 });
    assert.deepEqual(
      errors.filter((e) => /Content Security Policy|__xss/i.test(e)),
      [],
      'the CSP had nothing to block',
    );
  });
});
