/**
 * containerd against Berth over HTTPS, configured as a Kubernetes node configures its registries:
 * a `hosts.toml` per registry under the CRI plugin's `config_path` (here `ctr --hosts-dir`),
 * naming the server and the CA that signed Berth's certificate (`berth tls init`). Never with
 * verification off; without the CA, containerd refuses the certificate.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { containerdUnavailable, startContainerd, writeHostsToml, type Containerd } from './helpers/containerd.js';
import { blobPath, buildImageLayout, type BuiltImage } from './helpers/oci-layout.js';
import { sha256 } from './helpers/registry-http.js';

const run = promisify(execFile);
const unavailable = containerdUnavailable();
if (unavailable && (process.env.CI || process.env.BERTH_REQUIRE_CONTAINERD)) throw new Error(`containerd is required here: ${unavailable}`);

describe('containerd against Berth over HTTPS, through hosts.toml', { skip: unavailable ?? false }, () => {
  let berth: BerthProcess;
  let ctrd: Containerd;
  let work: string;
  let image: BuiltImage;
  let user: string; // AWS:<login token>
  const ref = (name: string) => `${berth.host}/${name}`;

  /** A hosts.toml directory for Berth's host:port, trusting `ca` when given. */
  async function hostsDir(name: string, ca?: string): Promise<string> {
    const dir = join(work, name);
    await writeHostsToml(dir, berth.host, `https://${berth.host}`, { ca });
    return dir;
  }

  before(async () => {
    work = await tempDir('berth-containerd-tls-');
    const pki = join(work, 'pki');
    await run(process.execPath, [cliPath, 'tls', 'init', '--dir', pki, '--host', 'localhost', '--host', '127.0.0.1']);
    image = await buildImageLayout(join(work, 'layout'), { layers: 2, layerBytes: [3 << 20, 1000], tag: 'v1' });
    await run('tar', ['-C', join(work, 'layout'), '-cf', join(work, 'image.tar'), '.']);
    // Each is kept as soon as it started, so that `after` stops the daemons even if another failed.
    const started = await Promise.allSettled([
      startBerth({ ca: join(pki, 'ca.crt'), args: ['--tls-cert', join(pki, 'server.crt'), '--tls-key', join(pki, 'server.key')] }).then((b) => (berth = b)),
      startContainerd().then((c) => (ctrd = c)),
    ]);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    user = Buffer.from(berth.authorization.replace(/^Basic /, ''), 'base64').toString();
    await hostsDir('trusted', join(pki, 'ca.crt'));
    await hostsDir('untrusted');
  });

  after(async () => {
    await ctrd?.stop();
    await berth?.cleanup();
  });

  it('pushes and pulls back over HTTPS, every blob the bytes pushed', async () => {
    const trusted = join(work, 'trusted');
    await ctrd.ctr(['images', 'import', '--no-unpack', '--base-name', ref('tls/app'), join(work, 'image.tar')]);
    await ctrd.ctr(['images', 'push', '--hosts-dir', trusted, '--user', user, ref('tls/app:v1')]);
    await ctrd.ctr(['images', 'rm', '--sync', ref('tls/app:v1')]);
    assert.ok(!(await ctrd.contentDigests()).has(image.layers[0]!.digest), 'the content is gone before the pull');

    const { stdout } = await ctrd.ctr(['images', 'pull', '--hosts-dir', trusted, '--user', user, ref('tls/app:v1')]);
    assert.match(stdout.toString(), new RegExp(`unpacking linux/amd64 ${image.manifestDigest}`));
    for (const digest of [image.manifestDigest, image.configDigest, ...image.layers.map((l) => l.digest)]) {
      const held = await ctrd.content(digest);
      assert.equal(sha256(held), digest);
      assert.ok(held.equals(await readFile(blobPath(join(work, 'layout'), digest))), `containerd's ${digest} is the pushed bytes`);
    }
  });

  it('refuses the certificate when hosts.toml names no CA', async () => {
    const err = await ctrd.ctrFails(['images', 'pull', '--hosts-dir', join(work, 'untrusted'), '--user', user, ref('tls/app:v1')]);
    assert.match(err, /x509: certificate signed by unknown authority/);
  });
});
