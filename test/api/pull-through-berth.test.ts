/**
 * One Berth as another's pull-through upstream, both the real app in process over real HTTP: the
 * cache's upstream client (src/pullthrough/upstream.ts) meets the upstream Berth's Bearer
 * challenge and follows it to its token endpoint — with no credentials for a public repository
 * (an anonymous token), with `AWS:<login token>` from a Secrets Manager secret for a private one —
 * and a private repository stays refused to a rule without credentials.
 */
import { CreatePullThroughCacheRuleCommand, CreateRepositoryCommand } from '@aws-sdk/client-ecr';
import { CreateRepositoryCommand as CreatePublicRepositoryCommand, ECRPUBLICClient } from '@aws-sdk/client-ecr-public';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { makeImage, pushImage } from '../e2e/helpers/gc.js';
import { manifestAccept, request, sha256 } from '../e2e/helpers/registry-http.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const ACCOUNT = '000000000000';

describe('a Berth as the pull-through upstream of another', () => {
  let upstream: BerthInProcess;
  let cache: BerthInProcess;
  let publicDigest: string;
  let privateDigest: string;
  const layer = Buffer.from('a layer of the upstream Berth\n'.repeat(100));
  const image = (repo: string) => makeImage(repo, 'v1', [layer]);
  /** A pull from the cache with its own admin's login: the manifest, then the layer. */
  const pullThrough = async (repo: string) => {
    const m = await request(`${cache.url}/v2/${repo}/manifests/v1`, { headers: { Authorization: cache.authorization, Accept: manifestAccept } });
    if (m.status !== 200) return { status: m.status, body: m.body.toString() };
    const blob = await request(`${cache.url}/v2/${repo}/blobs/${sha256(layer)}`, { headers: { Authorization: cache.authorization } });
    return { status: m.status, digest: m.headers.get('docker-content-digest'), layer: blob.body };
  };

  before(async () => {
    [upstream, cache] = await Promise.all([startInProcess(), startInProcess()]);
    const pub = new ECRPUBLICClient({ endpoint: upstream.url, region: 'us-east-1', credentials: adminCredentials(upstream), maxAttempts: 1 });
    await pub.send(new CreatePublicRepositoryCommand({ repositoryName: 'tools/hello' }));
    const pubImage = image(`${ACCOUNT}/tools/hello`);
    await pushImage(upstream.url, pubImage);
    publicDigest = pubImage.digest;
    await ecrClient(upstream).send(new CreateRepositoryCommand({ repositoryName: 'team/app' }));
    const privImage = image('team/app');
    await pushImage(upstream.url, privImage);
    privateDigest = privImage.digest;

    const login = Buffer.from(upstream.authorization.replace(/^Basic /, ''), 'base64')
      .toString()
      .replace(/^AWS:/, '');
    const client = { endpoint: cache.url, region: cache.region, credentials: adminCredentials(cache), maxAttempts: 1 };
    const secret = await new SecretsManagerClient(client).send(
      new CreateSecretCommand({ Name: 'ecr-pullthroughcache/upstream-berth', SecretString: JSON.stringify({ username: 'AWS', accessToken: login }) }),
    );
    const ecr = ecrClient(cache);
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'pub', upstreamRegistryUrl: upstream.url }));
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'priv', upstreamRegistryUrl: upstream.url, credentialArn: secret.ARN }));
  });
  after(async () => {
    await cache?.cleanup();
    await upstream?.cleanup();
  });

  it('pulls a public repository with an anonymous token from the upstream token endpoint', async () => {
    const got = await pullThrough(`pub/${ACCOUNT}/tools/hello`);
    assert.equal(got.status, 200, got.body);
    assert.equal(got.digest, publicDigest);
    assert.ok(got.layer?.equals(layer), 'the layer is the upstream bytes');
  });

  it('pulls a private repository with a token bought with the login in the secret; a rule without one is refused', async () => {
    const got = await pullThrough('priv/team/app');
    assert.equal(got.status, 200, got.body);
    assert.equal(got.digest, privateDigest);
    assert.ok(got.layer?.equals(layer));

    // The anonymous token reads no private repository upstream, so nothing is cached.
    const refused = await pullThrough('pub/team/app');
    assert.equal(refused.status, 502);
    assert.match(refused.body ?? '', /upstream http:\/\/127\.0\.0\.1:\d+ answered 401 for the manifest team\/app:v1/);
    const after = await request(`${cache.url}/v2/pub/team/app/tags/list`, { headers: { Authorization: cache.authorization } });
    assert.equal(after.status, 404, 'no repository was made for the refused pull');
  });
});
