/**
 * HTTPS end to end: `berth tls init` makes a development CA and server pair, `berth serve` serves
 * it, and skopeo and the AWS CLI trust it through their own CA options (never with verification
 * off). The certificate is then rotated under load, by replacing the files and by SIGHUP, while
 * clients keep making requests over kept-alive and fresh connections: none fails, new connections
 * see the new certificate, kept connections go on. A bad replacement keeps the old certificate.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { awsCliEnv } from './helpers/ecr-client.js';
import { buildImageLayout } from './helpers/oci-layout.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';

const run = promisify(execFile);
/** Only ends a hang; every wait below is for a condition. */
const HANG_MS = 90_000;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + HANG_MS;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const fingerprintOf = (pemFile: string) => new X509Certificate(readFileSync(pemFile)).fingerprint256;

describe('TLS', () => {
  let work: string;
  let pki: string;
  let live: string;
  let store: string;
  let berth: BerthProcess;
  let skopeo: Skopeo;
  let initOutput: string;
  const tlsInit = async () => (await run(process.execPath, [cliPath, 'tls', 'init', '--dir', pki, '--host', 'localhost', '--host', '127.0.0.1'])).stdout;

  /** The certificate a new connection is served, checked against the CA. */
  const servedFingerprint = () =>
    new Promise<string>((res, rej) => {
      const socket: TLSSocket = connect({ host: '127.0.0.1', port: berth.port, ca: readFileSync(join(pki, 'ca.crt')) }, () => {
        res(socket.getPeerCertificate().fingerprint256);
        socket.end();
      });
      socket.on('error', rej);
    });

  before(async () => {
    work = await tempDir('berth-tls-');
    pki = join(work, 'pki');
    live = join(work, 'live');
    store = join(work, 'store');
    await mkdir(live);
    await mkdir(store);
    initOutput = await tlsInit();
    // Berth serves live/server.{crt,key}: symlinks into store/, a directory it does not watch,
    // so that the SIGHUP rotation below can only be SIGHUP's doing.
    copyFileSync(join(pki, 'server.crt'), join(store, 'server.crt'));
    copyFileSync(join(pki, 'server.key'), join(store, 'server.key'));
    symlinkSync(join(store, 'server.crt'), join(live, 'server.crt'));
    symlinkSync(join(store, 'server.key'), join(live, 'server.key'));
    berth = await startBerth({ ca: join(pki, 'ca.crt'), args: ['--tls-cert', join(live, 'server.crt'), '--tls-key', join(live, 'server.key')] });
    skopeo = await createSkopeo();
  });
  after(async () => {
    await berth?.cleanup();
    await skopeo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('tls init writes a CA and a server pair, keys owner-only, and says how to trust and serve them', () => {
    for (const key of ['ca.key', 'server.key']) assert.equal(statSync(join(pki, key)).mode & 0o777, 0o600, key);
    const ca = new X509Certificate(readFileSync(join(pki, 'ca.crt')));
    const server = new X509Certificate(readFileSync(join(pki, 'server.crt')));
    assert.equal(ca.ca, true);
    assert.equal(server.ca, false);
    assert.ok(server.verify(ca.publicKey), 'the server certificate is signed by the CA');
    assert.equal(server.checkHost('localhost'), 'localhost');
    assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
    assert.deepEqual(readFileSync(join(pki, 'trust', 'ca.crt')), readFileSync(join(pki, 'ca.crt')));
    assert.match(initOutput, new RegExp(`--tls-cert ${join(pki, 'server.crt')} --tls-key ${join(pki, 'server.key')}`));
    assert.match(initOutput, /\/etc\/docker\/certs\.d\/localhost:5000\/ca\.crt/);
    assert.match(initOutput, new RegExp(`--cert-dir ${join(pki, 'trust')}`));
    assert.match(initOutput, new RegExp(`--ca-bundle ${join(pki, 'ca.crt')}`));
    assert.match(initOutput, /AWS_CA_BUNDLE/);
  });

  it('skopeo pushes and pulls over HTTPS trusting the CA through --dest-cert-dir / --src-cert-dir', async () => {
    const layout = join(work, 'layout');
    const image = await buildImageLayout(layout, { layers: 2, layerBytes: 256 * 1024, tag: 'app' });
    const trust = join(pki, 'trust');
    await skopeo.run(['copy', '-q', '--dest-cert-dir', trust, `oci:${layout}:app`, `docker://${berth.host}/tls/app:v1`]);
    const out = join(work, 'out');
    await skopeo.run(['copy', '-q', '--src-cert-dir', trust, `docker://${berth.host}/tls/app:v1`, `oci:${out}:v1`]);
    const raw = (await skopeo.run(['inspect', '--raw', '--cert-dir', trust, `docker://${berth.host}/tls/app:v1`])).stdout;
    assert.equal(raw, image.manifest.toString());
    // And the check is real: without the CA, skopeo refuses the certificate.
    await assert.rejects(skopeo.run(['inspect', '--raw', `docker://${berth.host}/tls/app:v1`]), /certificate/);
  });

  it('the AWS CLI talks to the ECR API over HTTPS with --ca-bundle', async () => {
    const env = awsCliEnv(berth);
    const ca = join(pki, 'ca.crt');
    const described = JSON.parse((await run('aws', ['ecr', 'describe-repositories', '--ca-bundle', ca, '--output', 'json'], { env })).stdout) as {
      repositories: Array<{ repositoryName: string }>;
    };
    assert.ok(described.repositories.some((r) => r.repositoryName === 'tls/app'));
    const password = (await run('aws', ['ecr', 'get-login-password', '--ca-bundle', ca], { env })).stdout.trim();
    assert.ok(password.length > 100);
    await assert.rejects(run('aws', ['ecr', 'describe-repositories'], { env: { ...env, AWS_MAX_ATTEMPTS: '1' } }), /SSL|certificate/i);
  });

  it('a request over HTTPS meets aws:SecureTransport on the JSON API and on /v2', async () => {
    const env = awsCliEnv(berth);
    const ca = ['--ca-bundle', join(pki, 'ca.crt'), '--output', 'json'];
    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['ecr:GetAuthorizationToken', 'ecr:DescribeRepositories', 'ecr:BatchGetImage'],
          Resource: '*',
          Condition: { Bool: { 'aws:SecureTransport': 'true' } },
        },
      ],
    };
    await run('aws', ['iam', 'create-user', '--user-name', 'tls-only', ...ca], { env });
    await run('aws', ['iam', 'put-user-policy', '--user-name', 'tls-only', '--policy-name', 'tls', '--policy-document', JSON.stringify(policy), ...ca], {
      env,
    });
    const key = JSON.parse((await run('aws', ['iam', 'create-access-key', '--user-name', 'tls-only', ...ca], { env })).stdout) as {
      AccessKey: { AccessKeyId: string; SecretAccessKey: string };
    };
    const userEnv = awsCliEnv(berth, { accessKeyId: key.AccessKey.AccessKeyId, secretAccessKey: key.AccessKey.SecretAccessKey });
    const described = JSON.parse((await run('aws', ['ecr', 'describe-repositories', ...ca], { env: userEnv })).stdout) as { repositories: unknown[] };
    assert.ok(described.repositories.length > 0, 'the Allow conditioned on TLS applies over HTTPS');
    const password = (await run('aws', ['ecr', 'get-login-password', ...ca], { env: userEnv })).stdout.trim();
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${berth.url}/v2/tls/app/manifests/v1`,
        {
          method: 'HEAD',
          ca: readFileSync(join(pki, 'ca.crt')),
          headers: { Authorization: `Basic ${Buffer.from(`AWS:${password}`).toString('base64')}`, Accept: 'application/vnd.oci.image.manifest.v1+json' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200, 'a /v2 pull over HTTPS is allowed by the same condition');
  });

  it('rotates the certificate under load, by SIGHUP and by replacing the files, without a failed request', async () => {
    const ca = readFileSync(join(pki, 'ca.crt'));
    const first = fingerprintOf(join(live, 'server.crt'));
    assert.equal(await servedFingerprint(), first);

    const failures: string[] = [];
    let stop = false;
    /** Per client: the certificate each completed request's connection was served, in order. */
    const seen: Record<'fresh' | 'kept', string[]> = { fresh: [], kept: [] };
    let keptReused = 0;
    const get = (agent: Agent | false, who: 'fresh' | 'kept') =>
      new Promise<void>((res) => {
        const req = request(`${berth.url}/v2/`, { agent, ca, headers: { authorization: berth.authorization } }, (r) => {
          const served = (r.socket as TLSSocket).getPeerCertificate().fingerprint256;
          if (who === 'kept' && req.reusedSocket) keptReused++;
          r.resume();
          r.on('end', () => {
            if (r.statusCode === 200) seen[who].push(served);
            else failures.push(`${who}: status ${r.statusCode}`);
            res();
          });
        });
        req.on('error', (e) => {
          failures.push(`${who}: ${e.message}`);
          res();
        });
        req.end();
      });
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1, ca });
    const loop = async (who: 'fresh' | 'kept') => {
      while (!stop) await get(who === 'kept' ? keepAlive : false, who);
    };
    const loops = [loop('fresh'), loop('fresh'), loop('kept')];
    /** Both kinds of client made requests after the rotation was seen by a new connection. */
    const moreRequests = async () => {
      const counts = { fresh: seen.fresh.length, kept: seen.kept.length };
      await waitFor('requests after the rotation', () => (seen.fresh.length >= counts.fresh + 5 && seen.kept.length >= counts.kept + 5 ? true : undefined));
    };

    try {
      await moreRequests();

      // SIGHUP: new content behind the symlinks, in a directory Berth does not watch.
      await tlsInit();
      const second = fingerprintOf(join(pki, 'server.crt'));
      assert.notEqual(second, first);
      replaceFile(join(pki, 'server.key'), join(store, 'server.key'));
      replaceFile(join(pki, 'server.crt'), join(store, 'server.crt'));
      berth.child.kill('SIGHUP');
      await waitFor('the SIGHUP certificate', async () => ((await servedFingerprint()) === second ? true : undefined));
      await moreRequests();

      // Files replaced in the watched directory, as cert-manager or an editor writes them.
      await tlsInit();
      const third = fingerprintOf(join(pki, 'server.crt'));
      replaceFile(join(pki, 'server.key'), join(live, 'server.key'));
      replaceFile(join(pki, 'server.crt'), join(live, 'server.crt'));
      await waitFor('the replaced files', async () => ((await servedFingerprint()) === third ? true : undefined));
      await moreRequests();

      // A bad replacement (a key that is not the certificate's) is refused and the old pair kept.
      const refusals = (reason: string) =>
        berth
          .output()
          .split('\n')
          .filter((l) => l.includes(`"reason":"${reason}"`) && l.includes('reload failed; still serving the previous certificate')).length;
      const before = { files: refusals('files changed'), sighup: refusals('SIGHUP') };
      await tlsInit();
      replaceFile(join(pki, 'server.crt'), join(live, 'server.crt'));
      await waitFor('the refusal in the log', () => (refusals('files changed') > before.files ? true : undefined));
      berth.child.kill('SIGHUP');
      await waitFor('the SIGHUP refusal in the log', () => (refusals('SIGHUP') > before.sighup ? true : undefined));
      assert.equal(await servedFingerprint(), third);
      await moreRequests();

      stop = true;
      await Promise.all(loops);
      assert.deepEqual(failures, []);
      // New connections saw each certificate in turn, and the bad one never.
      const order = [...new Set(seen.fresh)];
      assert.deepEqual(order, [first, second, third]);
      // The kept-alive connection went on across every rotation with the certificate it began with.
      assert.ok(keptReused > 15, `kept connection reused ${keptReused} times`);
      assert.deepEqual([...new Set(seen.kept)], [first]);
      assert.equal(berth.child.exitCode, null, 'the server is still running');
    } finally {
      stop = true;
      await Promise.all(loops);
      keepAlive.destroy();
    }
  });

  it('does not warn about plain HTTP when serving HTTPS', () => {
    assert.doesNotMatch(berth.output(), /serving plain HTTP/);
  });

  it('refuses to start on a pair that does not fit, naming the files', async () => {
    const other = join(work, 'other');
    await run(process.execPath, [cliPath, 'tls', 'init', '--dir', other]);
    const dataDir = await tempDir();
    try {
      const r = await run(process.execPath, [
        cliPath,
        'serve',
        '--data-dir',
        dataDir,
        '--port',
        '0',
        '--tls-cert',
        join(pki, 'server.crt'),
        '--tls-key',
        join(other, 'server.key'),
      ]).then(
        () => assert.fail('serve started'),
        (e: { code: number; stderr: string }) => e,
      );
      assert.equal(r.code, 2);
      assert.match(r.stderr, /cannot be used together/);
      const half = await run(process.execPath, [cliPath, 'verify-config', '--data-dir', dataDir], {
        env: { ...process.env, BERTH_TLS_CERT: join(pki, 'server.crt') },
      }).then(
        () => assert.fail('a certificate without a key was accepted'),
        (e: { code: number; stderr: string }) => e,
      );
      assert.equal(half.code, 2);
      assert.match(half.stderr, /tlsKey: tlsCert and tlsKey go together/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('plain HTTP beyond loopback', () => {
  let berth: BerthProcess;
  after(async () => berth?.cleanup());

  it('logs a warning once', async () => {
    // The later --host wins: every interface, still reachable on 127.0.0.1.
    berth = await startBerth({ args: ['--host', '0.0.0.0'] });
    const warnings = () =>
      berth
        .output()
        .split('\n')
        .filter((l) => l.includes('serving plain HTTP beyond this machine'));
    await waitFor('the warning', () => (warnings().length > 0 ? true : undefined));
    for (let i = 0; i < 3; i++) await fetch(`${berth.url}/v2/`).then((r) => r.arrayBuffer());
    assert.equal(warnings().length, 1, berth.output());
    assert.match(warnings()[0]!, /"level":40/);
  });
});

/** A copy renamed into place: the way certificate tooling replaces a file. */
function replaceFile(from: string, to: string): void {
  const tmp = `${to}.new`;
  writeFileSync(tmp, readFileSync(from));
  renameSync(tmp, to);
}
