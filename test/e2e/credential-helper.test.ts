/**
 * Issue #16 point 4: `docker-credential-berth` as the processes docker, skopeo and the kubelet
 * run. skopeo pushes and pulls with no `skopeo login`, through `credHelpers` in its auth file and
 * through `credential-helpers` in registries.conf; the helper's answers, its token cache (counted
 * in the server's access log: a cached `get` asks nothing), its endpoint settings, and its errors.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort, repoRoot, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials } from './helpers/ecr-client.js';
import { buildImageLayout } from './helpers/oci-layout.js';
import { waitFor } from './helpers/wait-for.js';

const run = promisify(execFile);
const helperJs = join(repoRoot, 'dist/src/cli/credential-helper/main.js');

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

describe('docker-credential-berth', () => {
  let berth: BerthProcess;
  let work: string;
  let bin: string;
  let accessLog: string;
  let layout: string;
  let env: NodeJS.ProcessEnv;
  let cache: string;
  let markers = 0;

  /** The helper as docker runs it: a command on stdin, the answer on stdout. */
  function helper(args: string[], input: string, extra: NodeJS.ProcessEnv = {}): Promise<Ran> {
    return new Promise((resolve, reject) => {
      const child = spawn(join(bin, 'docker-credential-berth'), args, { env: { ...env, ...extra } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      child.stdin.end(input);
    });
  }

  /**
   * GetAuthorizationToken calls the server logged so far. The log is written in batches, in
   * order: a marker request is sent and waited for, so every earlier request is in the file.
   */
  async function tokenRequests(): Promise<number> {
    const marker = `marker${++markers}`;
    await fetch(`${berth.url}/v2/${marker}/tags/list`).then((r) => r.arrayBuffer());
    const text = await waitFor(`the access log to show ${marker}`, async () => {
      const t = await readFile(accessLog, 'utf8').catch(() => '');
      return t.includes(`/v2/${marker}/`) && t;
    });
    return text.split('\n').filter((l) => l.includes('"operation":"GetAuthorizationToken"')).length;
  }

  /** skopeo with no login: its credentials come from the helper on PATH alone. */
  async function skopeo(home: string, args: string[]): Promise<void> {
    const policy = join(home, 'policy.json');
    await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    await run('skopeo', ['--policy', policy, ...args], {
      env: { ...env, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), XDG_RUNTIME_DIR: home, TMPDIR: home },
      timeout: 120_000,
    });
  }

  before(async () => {
    work = await tempDir('berth-credhelper-');
    accessLog = join(work, 'access.log');
    bin = join(work, 'bin');
    await mkdir(bin);
    // What npm's bin link does: the compiled entry, run by this Node.
    await writeFile(join(bin, 'docker-credential-berth'), `#!/bin/sh\nexec "${process.execPath}" "${helperJs}" "$@"\n`);
    await chmod(join(bin, 'docker-credential-berth'), 0o755);
    layout = join(work, 'img');
    await buildImageLayout(layout, { layers: 2, layerBytes: 4096, tag: 'app' });
    berth = await startBerth({ env: { BERTH_ACCESS_LOG: accessLog } });
    const keys = adminCredentials(berth);
    cache = join(work, 'cache');
    env = {
      PATH: `${bin}:${process.env.PATH}`,
      HOME: work,
      XDG_CACHE_HOME: cache,
      AWS_ACCESS_KEY_ID: keys.accessKeyId,
      AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
      AWS_REGION: berth.region,
      AWS_ENDPOINT_URL: berth.url,
      AWS_CONFIG_FILE: join(work, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-credentials'),
    };
  });
  after(async () => {
    await berth?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('answers get with a working login, list with {}, and keeps nothing on store and erase', async () => {
    const got = await helper(['get'], `${berth.host}\n`);
    assert.equal(got.code, 0, got.stderr);
    const answer = JSON.parse(got.stdout) as { ServerURL: string; Username: string; Secret: string };
    assert.deepEqual([answer.ServerURL, answer.Username], [berth.host, 'AWS']);
    const authorization = `Basic ${Buffer.from(`AWS:${answer.Secret}`).toString('base64')}`;
    assert.equal((await fetch(`${berth.url}/v2/`, { headers: { authorization } })).status, 200);
    assert.deepEqual(await helper(['list'], ''), { code: 0, stdout: '{}\n', stderr: '' });
    const stored = await helper(['store'], JSON.stringify({ ServerURL: berth.host, Username: 'AWS', Secret: 'x' }));
    assert.deepEqual([stored.code, stored.stdout], [0, '']);
    assert.deepEqual([(await helper(['erase'], berth.host)).code, (await helper(['get'], `${berth.host}\n`)).code], [0, 0]);
    const usage = await helper(['frobnicate'], '');
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /usage: docker-credential-berth get\|store\|erase\|list\|kubelet/);
  });

  it('caches the token (mode 0600): a second get asks Berth nothing; a token near expiry is fetched again', async () => {
    await rm(cache, { recursive: true, force: true });
    const before = await tokenRequests();
    const first = JSON.parse((await helper(['get'], berth.host)).stdout) as { Secret: string };
    const second = JSON.parse((await helper(['get'], `http://${berth.host}/v1/`)).stdout) as { Secret: string };
    assert.equal(second.Secret, first.Secret);
    assert.equal(await tokenRequests(), before + 1);
    const file = join(cache, 'berth', 'credential-helper.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(cache, 'berth'))).mode & 0o777, 0o700);

    // Four minutes left: within the five-minute margin, so the helper asks again.
    const entries = JSON.parse(await readFile(file, 'utf8')) as Record<string, { expiresAt: number; password: string }>;
    for (const e of Object.values(entries)) {
      e.expiresAt = Date.now() + 4 * 60_000;
      e.password = 'stale';
    }
    await writeFile(file, JSON.stringify(entries), { mode: 0o600 });
    const third = JSON.parse((await helper(['get'], berth.host)).stdout) as { Secret: string };
    assert.notEqual(third.Secret, 'stale');
    assert.equal(await tokenRequests(), before + 2);
    // A corrupt cache is no error: the helper asks Berth again.
    await writeFile(file, '{not json', { mode: 0o600 });
    assert.equal((await helper(['get'], berth.host)).code, 0);
    assert.equal(await tokenRequests(), before + 3);
  });

  it('takes AWS_ENDPOINT_URL_ECR over AWS_ENDPOINT_URL, then a profile endpoint_url, else https://<host>', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const ecrFirst = await helper(['get'], berth.host, { AWS_ENDPOINT_URL: dead, AWS_ENDPOINT_URL_ECR: berth.url });
    assert.equal(ecrFirst.code, 0, ecrFirst.stderr);
    const config = join(work, 'profile-config');
    const { accessKeyId, secretAccessKey } = adminCredentials(berth);
    const lines = [
      `region = ${berth.region}`,
      `endpoint_url = ${berth.url}`,
      `aws_access_key_id = ${accessKeyId}`,
      `aws_secret_access_key = ${secretAccessKey}`,
    ];
    await writeFile(config, `[profile berth]\n${lines.join('\n')}\n`);
    // Credentials, region and endpoint, all from the profile.
    const profile = await helper(['get'], berth.host, {
      AWS_ENDPOINT_URL: undefined,
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_REGION: undefined,
      AWS_CONFIG_FILE: config,
      AWS_PROFILE: 'berth',
    });
    assert.equal(profile.code, 0, profile.stderr);
    // Nothing configured: the host asked for, over https (this server speaks plain HTTP, so it fails).
    const host = await helper(['get'], berth.host, { AWS_ENDPOINT_URL: undefined });
    assert.equal(host.code, 1);
    assert.match(host.stderr, new RegExp(`GetAuthorizationToken at https://${berth.host} failed`));
  });

  it('fails cleanly: a dead endpoint, no credentials, no server URL; never printing a secret', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    // A cache of its own: a cached token would answer before any of these could fail.
    const fresh = { XDG_CACHE_HOME: join(work, 'failures-cache') };
    const failures = [
      await helper(['get'], berth.host, { ...fresh, AWS_ENDPOINT_URL: dead }),
      await helper(['get'], berth.host, { ...fresh, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_EC2_METADATA_DISABLED: 'true' }),
      await helper(['get'], '', fresh),
      await helper(['get'], berth.host, { ...fresh, AWS_SECRET_ACCESS_KEY: 'wrong-secret-wrong-secret' }),
    ];
    const [deadEndpoint, noCredentials, noUrl, badSecret] = failures;
    assert.match(deadEndpoint!.stderr, new RegExp(`^docker-credential-berth: GetAuthorizationToken at ${dead} failed: ECONNREFUSED`, 'm'));
    assert.match(noCredentials!.stderr, /docker-credential-berth: no AWS credentials/);
    assert.match(noUrl!.stderr, /expected a registry server URL on stdin/);
    assert.match(badSecret!.stderr, /InvalidSignatureException|SignatureDoesNotMatch|UnrecognizedClient/);
    for (const f of failures) {
      assert.equal(f.code, 1);
      assert.equal(f.stdout, '');
      for (const secret of [env.AWS_SECRET_ACCESS_KEY!, 'wrong-secret', '    at ']) assert.ok(!f.stderr.includes(secret), f.stderr);
    }
  });

  it('answers the kubelet credential-provider protocol', async () => {
    const request = { apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderRequest', image: `${berth.host}/team/web:v1` };
    const got = await helper(['kubelet'], JSON.stringify(request));
    assert.equal(got.code, 0, got.stderr);
    const answer = JSON.parse(got.stdout) as {
      apiVersion: string;
      kind: string;
      cacheKeyType: string;
      cacheDuration: string;
      auth: Record<string, { username: string; password: string }>;
    };
    assert.deepEqual([answer.apiVersion, answer.kind, answer.cacheKeyType], [request.apiVersion, 'CredentialProviderResponse', 'Registry']);
    assert.match(answer.cacheDuration, /^1[01]h\d+m\d+s$/);
    const login = answer.auth[berth.host]!;
    const authorization = `Basic ${Buffer.from(`${login.username}:${login.password}`).toString('base64')}`;
    assert.equal((await fetch(`${berth.url}/v2/`, { headers: { authorization } })).status, 200);
    const wrong = await helper(['kubelet'], JSON.stringify({ ...request, kind: 'Pod' }));
    assert.deepEqual([wrong.code, wrong.stdout], [1, '']);
    assert.match(wrong.stderr, /expected kind CredentialProviderRequest/);
  });

  it('lets skopeo push (credHelpers in its auth file) and pull (credential-helpers in registries.conf) with no login', async () => {
    const home = await tempDir('berth-credhelper-skopeo-');
    try {
      const authfile = join(home, 'auth.json');
      await writeFile(authfile, JSON.stringify({ auths: {}, credHelpers: { [berth.host]: 'berth' } }));
      await skopeo(home, ['copy', '-q', '--authfile', authfile, '--dest-tls-verify=false', `oci:${layout}:app`, `docker://${berth.host}/helped/app:v1`]);

      const empty = join(home, 'empty-auth.json');
      await writeFile(empty, '{"auths":{}}');
      const conf = join(home, 'registries.conf');
      await writeFile(conf, `credential-helpers = ["berth"]\n[[registry]]\nlocation = "${berth.host}"\ninsecure = true\n`);
      const pulled = join(home, 'pulled');
      await skopeo(home, ['--registries-conf', conf, 'copy', '-q', '--authfile', empty, `docker://${berth.host}/helped/app:v1`, `oci:${pulled}:v1`]);
      const index = JSON.parse(await readFile(join(pulled, 'index.json'), 'utf8')) as { manifests: unknown[] };
      assert.equal(index.manifests.length, 1);
      // Without the helper the same pull is refused: the credentials came from it.
      const refused = skopeo(home, [
        'copy',
        '-q',
        '--authfile',
        empty,
        '--src-tls-verify=false',
        `docker://${berth.host}/helped/app:v1`,
        `oci:${join(home, 'no')}:v1`,
      ]);
      await assert.rejects(refused, /unauthorized|authentication required/i);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
