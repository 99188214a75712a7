/**
 * ECR managed signing end to end, through real clients: a signing profile made on Berth's
 * Signer endpoint (signed REST, as @aws-sdk/client-signer sends it), the registry's signing
 * configuration through @aws-sdk/client-ecr, images pushed through PutImage and /v2, and the
 * Notation signature fetched back over /v2's referrers API and verified with Node's crypto: the
 * JWS against its certificate, the signed descriptor against the pushed manifest.
 */
import assert from 'node:assert/strict';
import { createHash, verify, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  CreateRepositoryCommand,
  DeleteSigningConfigurationCommand,
  DescribeImageSigningStatusCommand,
  type ECRClient,
  GetSigningConfigurationCommand,
  type ImageSigningStatus,
  PutImageCommand,
  PutSigningConfigurationCommand,
} from '@aws-sdk/client-ecr';
import { adminCredentials, type Credentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { configOnlyManifest, pushBlob, pushManifest, request, sha256 } from '../e2e/helpers/registry-http.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { signedRest } from './helpers/signed-rest.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const NOTATION = 'application/vnd.cncf.notary.signature';

interface Jws {
  payload: string;
  protected: string;
  header: { x5c: string[]; 'io.cncf.notary.signingAgent'?: string };
  signature: string;
}

describe('ECR managed signing', () => {
  let berth: BerthInProcess;
  let ecr: ECRClient;
  let creds: Credentials;
  let account: string;
  let profileArn: string;
  let n = 0;

  const signer = (method: 'GET' | 'PUT' | 'DELETE', path: string, body?: Record<string, unknown>, query?: Record<string, string>) =>
    signedRest(berth, creds, { method, path, ...(body && { body }), ...(query && { query }) });

  /** Pushes a new one-config image to `repo` (PutImage or /v2) and answers its manifest's digest, size and bytes. */
  async function push(repo: string, via: 'PutImage' | 'v2') {
    const config = Buffer.from(JSON.stringify({ image: n++, repo }));
    await pushBlob(berth.url, repo, config);
    const manifest = configOnlyManifest(config);
    if (via === 'PutImage') await ecr.send(new PutImageCommand({ repositoryName: repo, imageManifest: manifest, imageTag: `v${n}` }));
    else assert.equal((await pushManifest(berth.url, repo, `v${n}`, Buffer.from(manifest), OCI_MANIFEST)).status, 201);
    return { digest: sha256(manifest), size: Buffer.byteLength(manifest) };
  }

  const statuses = async (repo: string, digest: string) =>
    (await ecr.send(new DescribeImageSigningStatusCommand({ repositoryName: repo, imageId: { imageDigest: digest } }))).signingStatuses ?? [];
  const settled = (repo: string, digest: string) =>
    waitFor(`the signing of ${digest}`, async () => {
      const s = await statuses(repo, digest);
      return s.length > 0 && s.every((x) => x.status !== 'IN_PROGRESS') && s;
    });
  const signatures = async (repo: string, digest: string) => {
    const res = await request(`${berth.url}/v2/${repo}/referrers/${digest}?artifactType=${encodeURIComponent(NOTATION)}`);
    assert.equal(res.status, 200);
    return (JSON.parse(res.body.toString()) as { manifests: Array<{ digest: string; artifactType: string; annotations?: Record<string, string> }> }).manifests;
  };

  before(async () => {
    berth = await startInProcess();
    creds = adminCredentials(berth);
    ecr = ecrClient(berth, creds);
    const made = await signer('PUT', '/signing-profiles/release_signer', { platformId: 'Notation-OCI-SHA384-ECDSA' });
    assert.equal(made.status, 200, JSON.stringify(made.json));
    profileArn = String(made.json.arn);
    account = profileArn.split(':')[4]!;
    for (const name of ['team/app', 'team/web', 'other/app']) await ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
  });
  after(async () => berth?.cleanup());

  it('has no signing configuration until one is put, then answers it as put', async () => {
    await assert.rejects(ecr.send(new GetSigningConfigurationCommand({})), { name: 'SigningConfigurationNotFoundException' });
    await assert.rejects(ecr.send(new DeleteSigningConfigurationCommand({})), { name: 'SigningConfigurationNotFoundException' });
    const rules = [{ signingProfileArn: profileArn, repositoryFilters: [{ filter: 'team/*', filterType: 'WILDCARD_MATCH' as const }] }];
    const put = await ecr.send(new PutSigningConfigurationCommand({ signingConfiguration: { rules } }));
    assert.deepEqual(put.signingConfiguration, { rules });
    const got = await ecr.send(new GetSigningConfigurationCommand({}));
    assert.equal(got.registryId, account);
    assert.deepEqual(got.signingConfiguration, { rules });
  });

  for (const via of ['PutImage', 'v2'] as const) {
    it(`signs an image pushed through ${via} to a matching repository: a Notation JWS over its descriptor, as a referrer`, async () => {
      const image = await push('team/app', via);
      assert.deepEqual(await settled('team/app', image.digest), [{ signingProfileArn: profileArn, status: 'COMPLETE' }]);
      const found = await signatures('team/app', image.digest);
      assert.equal(found.length, 1);
      const manifestRes = await request(`${berth.url}/v2/team/app/manifests/${found[0]!.digest}`, { headers: { accept: OCI_MANIFEST } });
      const manifest = JSON.parse(manifestRes.body.toString()) as {
        artifactType: string;
        subject: { digest: string; size: number; mediaType: string };
        layers: Array<{ mediaType: string; digest: string; size: number }>;
        annotations: Record<string, string>;
      };
      assert.equal(manifest.artifactType, NOTATION);
      assert.deepEqual(manifest.subject, { mediaType: OCI_MANIFEST, digest: image.digest, size: image.size });
      assert.equal(manifest.layers.length, 1);
      assert.equal(manifest.layers[0]!.mediaType, 'application/jose+json');
      const envelope = (await request(`${berth.url}/v2/team/app/blobs/${manifest.layers[0]!.digest}`)).body;
      assert.equal(sha256(envelope), manifest.layers[0]!.digest);
      const jws = JSON.parse(envelope.toString()) as Jws;

      // The JWS verifies against the certificate it carries, which is a P-384 code-signing certificate.
      const cert = new X509Certificate(Buffer.from(jws.header.x5c[0]!, 'base64'));
      assert.equal(jws.header.x5c.length, 1);
      assert.ok(cert.verify(cert.publicKey), 'self-signed');
      assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
      assert.ok(cert.keyUsage?.includes('1.3.6.1.5.5.7.3.3'), 'extended key usage codeSigning');
      assert.equal(cert.ca, false);
      const signed = Buffer.from(`${jws.protected}.${jws.payload}`, 'ascii');
      assert.ok(verify('sha384', signed, { key: cert.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(jws.signature, 'base64url')));
      const header = JSON.parse(Buffer.from(jws.protected, 'base64url').toString()) as Record<string, unknown>;
      assert.equal(header.alg, 'ES384');
      assert.equal(header.cty, 'application/vnd.cncf.notary.payload.v1+json');
      assert.equal(header['io.cncf.notary.signingScheme'], 'notary.x509');
      assert.deepEqual(header.crit, ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry']);
      assert.ok(Date.parse(String(header['io.cncf.notary.expiry'])) > Date.parse(String(header['io.cncf.notary.signingTime'])));
      // The payload names exactly the pushed manifest.
      const payload = JSON.parse(Buffer.from(jws.payload, 'base64url').toString()) as { targetArtifact: unknown };
      assert.deepEqual(payload.targetArtifact, { mediaType: OCI_MANIFEST, digest: image.digest, size: image.size });
      // The thumbprint annotation pins the certificate.
      assert.equal(manifest.annotations['io.cncf.notary.x509chain.thumbprint#S256'], JSON.stringify([createHash('sha256').update(cert.raw).digest('hex')]));
    });
  }

  it('signs no image of a repository no rule matches, and answers no status for it', async () => {
    const image = await push('other/app', 'PutImage');
    // Signing is asynchronous: the image of a matching repository pushed after it is signed first.
    const later = await push('team/web', 'PutImage');
    await settled('team/web', later.digest);
    assert.deepEqual(await statuses('other/app', image.digest), []);
    assert.deepEqual(await signatures('other/app', image.digest), []);
  });

  it('runs a job again without signing twice (a crash after the signature was stored)', async () => {
    const image = await push('team/app', 'PutImage');
    await settled('team/app', image.digest);
    const { meta } = berth.app.registry.ctx;
    const payload = { registryKey: `${account}:${berth.region}`, repository: 'team/app', digest: image.digest, profileArns: [profileArn], pushId: 'rerun' };
    await meta.jobs.enqueue([{ kind: 'sign-image', payload }], new Date());
    berth.app.registry.ctx.jobsQueued?.();
    await waitFor('the rerun job to finish', async () => (await meta.jobs.pending('sign-image')) === 0);
    assert.equal((await signatures('team/app', image.digest)).length, 1);
    assert.deepEqual(await statuses('team/app', image.digest), [{ signingProfileArn: profileArn, status: 'COMPLETE' }]);
  });

  it('reports FAILED for a profile that does not exist, and signs with the others', async () => {
    const missing = `arn:aws:signer:${berth.region}:${account}:/signing-profiles/never_made`;
    await ecr.send(
      new PutSigningConfigurationCommand({ signingConfiguration: { rules: [{ signingProfileArn: profileArn }, { signingProfileArn: missing }] } }),
    );
    const image = await push('other/app', 'v2');
    const result = await settled('other/app', image.digest);
    const byArn = new Map(result.map((s: ImageSigningStatus) => [s.signingProfileArn, s]));
    assert.equal(byArn.get(profileArn)?.status, 'COMPLETE');
    assert.equal(byArn.get(missing)?.status, 'FAILED');
    assert.equal(byArn.get(missing)?.failureCode, 'SIGNING_PROFILE_NOT_FOUND');
    assert.equal((await signatures('other/app', image.digest)).length, 1);
  });

  it('reports FAILED for a canceled profile and stores no signature', async () => {
    const made = await signer('PUT', '/signing-profiles/short_lived', { platformId: 'Notation-OCI-SHA384-ECDSA' });
    await ecr.send(new PutSigningConfigurationCommand({ signingConfiguration: { rules: [{ signingProfileArn: String(made.json.arn) }] } }));
    assert.equal((await signer('DELETE', '/signing-profiles/short_lived')).status, 200);
    const image = await push('team/app', 'PutImage');
    const [status] = await settled('team/app', image.digest);
    assert.equal(status?.status, 'FAILED');
    assert.equal(status?.failureCode, 'SIGNING_PROFILE_NOT_ACTIVE');
    assert.deepEqual(await signatures('team/app', image.digest), []);
  });

  it('stops signing once the configuration is deleted, answering what it was', async () => {
    const before0 = await ecr.send(new GetSigningConfigurationCommand({}));
    const deleted = await ecr.send(new DeleteSigningConfigurationCommand({}));
    assert.deepEqual(deleted.signingConfiguration, before0.signingConfiguration);
    await assert.rejects(ecr.send(new GetSigningConfigurationCommand({})), { name: 'SigningConfigurationNotFoundException' });
    const image = await push('team/app', 'PutImage');
    assert.deepEqual(await statuses('team/app', image.digest), []);
  });

  it('answers DescribeImageSigningStatus for unknown images and repositories as ECR does', async () => {
    await assert.rejects(statuses('team/app', `sha256:${'0'.repeat(64)}`), { name: 'ImageNotFoundException' });
    await assert.rejects(statuses('no/such', `sha256:${'0'.repeat(64)}`), { name: 'RepositoryNotFoundException' });
  });
});
