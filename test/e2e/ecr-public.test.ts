/**
 * ECR Public: `aws ecr-public` and @aws-sdk/client-ecr-public against Berth, pushes with skopeo
 * after `get-login-password`, and anonymous pulls of public repositories through /v2.
 */
import {
  CreateRepositoryCommand,
  DescribeImageTagsCommand,
  DescribeRepositoriesCommand,
  ECRPUBLICClient,
  GetRepositoryCatalogDataCommand,
  PutRepositoryCatalogDataCommand,
  type CreateRepositoryResponse,
  type DescribeImagesResponse,
  type DescribeImageTagsResponse,
  type DescribeRegistriesResponse,
  type GetRegistryCatalogDataResponse,
  type PutRegistryCatalogDataResponse,
} from '@aws-sdk/client-ecr-public';
import { AttachUserPolicyCommand, CreateAccessKeyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, awsCliEnv, type Credentials } from './helpers/ecr-client.js';
import { buildImageLayout, readLayoutRef } from './helpers/oci-layout.js';
import { errorCode, manifestAccept } from './helpers/registry-http.js';

const run = promisify(execFile);
const ACCOUNT = '000000000000';

describe('ECR Public', () => {
  let berth: BerthProcess;
  let env: NodeJS.ProcessEnv;
  let home: string;
  let admin: ECRPUBLICClient;
  const publicClient = (credentials: Credentials) => new ECRPUBLICClient({ endpoint: berth.url, region: 'us-east-1', credentials, maxAttempts: 1 });
  // The CLI's JSON output of one command, read as the SDK's shape of its response.
  const aws = async <T>(...args: string[]): Promise<T> => JSON.parse((await run('aws', ['ecr-public', ...args, '--output', 'json'], { env })).stdout) as T;
  const skopeo = (...args: string[]) =>
    run('skopeo', ['--policy', join(home, 'policy.json'), ...args], {
      env: { PATH: process.env.PATH, HOME: home, REGISTRY_AUTH_FILE: join(home, 'auth.json') },
    });
  /** Raw /v2 without credentials: what an anonymous puller sends. */
  const anonymous = (path: string, init: RequestInit = {}) => fetch(`${berth.url}${path}`, init);

  before(async () => {
    berth = await startBerth();
    env = awsCliEnv(berth);
    home = await tempDir('berth-public-');
    await mkdir(join(home, 'tmp'));
    await writeFile(join(home, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    await writeFile(join(home, 'auth.json'), '{"auths":{}}');
    admin = publicClient(adminCredentials(berth));
  });
  after(async () => berth?.cleanup());

  it('creates a public repository with catalog data, pushes after get-login-password, and anyone pulls it', async () => {
    const created = await aws<CreateRepositoryResponse>(
      'create-repository',
      '--repository-name',
      'tools/hello',
      '--catalog-data',
      'description=A greeting,architectures=x86-64,operatingSystems=Linux,usageText=docker run it',
    );
    assert.equal(created.repository?.repositoryUri, `${berth.host}/${ACCOUNT}/tools/hello`);
    assert.equal(created.repository?.repositoryArn, `arn:aws:ecr-public::${ACCOUNT}:repository/tools/hello`);
    assert.deepEqual(created.catalogData, {
      description: 'A greeting',
      architectures: ['x86-64'],
      operatingSystems: ['Linux'],
      usageText: 'docker run it',
      marketplaceCertified: false,
    });

    // aws ecr-public get-login-password | skopeo login --username AWS --password-stdin <host>
    const password = (await run('aws', ['ecr-public', 'get-login-password'], { env })).stdout.trim();
    await new Promise<void>((resolve, reject) => {
      const login = spawn('skopeo', ['login', '--tls-verify=false', '--username', 'AWS', '--password-stdin', berth.host], {
        env: { PATH: process.env.PATH, HOME: home, REGISTRY_AUTH_FILE: join(home, 'auth.json') },
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      let err = '';
      login.stderr.on('data', (d: Buffer) => (err += d.toString()));
      login.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`skopeo login: ${err}`))));
      login.stdin.end(password + '\n');
    });
    const layout = join(home, 'image');
    const built = await buildImageLayout(layout, { layers: 2, layerBytes: 100_000, tag: 'v1' });
    await skopeo('copy', '-q', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${berth.host}/${ACCOUNT}/tools/hello:v1`);

    // No credentials at all: skopeo and raw HTTP both pull.
    const pulled = join(home, 'pulled');
    await skopeo('copy', '-q', '--src-no-creds', '--src-tls-verify=false', `docker://${berth.host}/${ACCOUNT}/tools/hello:v1`, `oci:${pulled}:v1`);
    assert.equal((await readLayoutRef(pulled, 'v1')).digest, built.manifestDigest);
    const manifest = await anonymous(`/v2/${ACCOUNT}/tools/hello/manifests/v1`, { headers: { Accept: manifestAccept } });
    assert.equal(manifest.status, 200);
    assert.equal(manifest.headers.get('docker-content-digest'), built.manifestDigest);
    const tags = await anonymous(`/v2/${ACCOUNT}/tools/hello/tags/list`);
    assert.deepEqual(await tags.json(), { name: `${ACCOUNT}/tools/hello`, tags: ['v1'] });

    // Reading is public; writing is not, and private repositories stay private.
    const push = await anonymous(`/v2/${ACCOUNT}/tools/hello/blobs/uploads/`, { method: 'POST' });
    assert.equal(push.status, 401);
    assert.match(push.headers.get('www-authenticate') ?? '', new RegExp(`^Bearer realm=".*/token",.*,scope="repository:${ACCOUNT}/tools/hello:pull,push"$`));
    assert.equal((await anonymous(`/v2/${ACCOUNT}/tools/nothing/manifests/v1`)).status, 401);
    assert.equal((await anonymous('/v2/_catalog')).status, 401);

    const described = await aws<DescribeImageTagsResponse>('describe-image-tags', '--repository-name', 'tools/hello');
    assert.deepEqual(
      described.imageTagDetails?.map((d) => [d.imageTag, d.imageDetail?.imageDigest]),
      [['v1', built.manifestDigest]],
    );
    const images = await aws<DescribeImagesResponse>('describe-images', '--repository-name', 'tools/hello');
    assert.equal(images.imageDetails?.[0]?.imageDigest, built.manifestDigest);
    const registries = await aws<DescribeRegistriesResponse>('describe-registries');
    assert.equal(registries.registries?.[0]?.registryUri, `${berth.host}/${ACCOUNT}`);
    assert.equal(registries.registries?.[0]?.aliases?.[0]?.name, ACCOUNT);

    // Deleting needs --force while images remain.
    await assert.rejects(run('aws', ['ecr-public', 'delete-repository', '--repository-name', 'tools/hello'], { env }), /RepositoryNotEmptyException/);
    await aws('delete-repository', '--repository-name', 'tools/hello', '--force');
    assert.equal((await anonymous(`/v2/${ACCOUNT}/tools/hello/manifests/v1`)).status, 401);
  });

  it('keeps the public and private namespaces apart', async () => {
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'shared/name' }));
    const { repositories } = await admin.send(new DescribeRepositoriesCommand({}));
    assert.ok(repositories?.some((r: { repositoryName?: string }) => r.repositoryName === 'shared/name'));
    const privateRepos = JSON.parse((await run('aws', ['ecr', 'describe-repositories', '--output', 'json'], { env })).stdout) as {
      repositories: Array<{ repositoryName: string }>;
    };
    assert.ok(!privateRepos.repositories.some((r) => r.repositoryName === 'shared/name'));
  });

  it('stores catalog data, merges updates and serves the logo', async () => {
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'catalog/app' }));
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]);
    await admin.send(new PutRepositoryCatalogDataCommand({ repositoryName: 'catalog/app', catalogData: { description: 'first', logoImageBlob: png } }));
    await admin.send(new PutRepositoryCatalogDataCommand({ repositoryName: 'catalog/app', catalogData: { aboutText: 'about' } }));
    const { catalogData } = await admin.send(new GetRepositoryCatalogDataCommand({ repositoryName: 'catalog/app' }));
    assert.equal(catalogData?.description, 'first');
    assert.equal(catalogData?.aboutText, 'about');
    const logo = await fetch(catalogData!.logoUrl!);
    assert.equal(logo.status, 200);
    assert.equal(logo.headers.get('content-type'), 'image/png');
    assert.deepEqual(Buffer.from(await logo.arrayBuffer()), png);

    const reg = await aws<PutRegistryCatalogDataResponse>('put-registry-catalog-data', '--display-name', 'Berth tests');
    assert.equal(reg.registryCatalogData?.displayName, 'Berth tests');
    assert.equal((await aws<GetRegistryCatalogDataResponse>('get-registry-catalog-data')).registryCatalogData?.displayName, 'Berth tests');
  });

  it('refuses bad input with ECR Public exceptions', async () => {
    await assert.rejects(admin.send(new CreateRepositoryCommand({ repositoryName: 'a'.repeat(206) })), {
      name: 'ValidationException',
      message: `1 validation error detected: Value '${'a'.repeat(206)}' at 'repositoryName' failed to satisfy constraint: Member must have length less than or equal to 205`,
    });
    // The name's grammar is a constraint of ECR Public's model (in ECR's, a rule of the service's own).
    await assert.rejects(admin.send(new CreateRepositoryCommand({ repositoryName: 'Bad/Name' })), {
      name: 'ValidationException',
      message:
        "1 validation error detected: Value 'Bad/Name' at 'repositoryName' failed to satisfy constraint: " +
        'Member must satisfy regular expression pattern: (?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*',
    });
    await assert.rejects(admin.send(new DescribeRepositoriesCommand({ repositoryNames: ['nope/none'] })), { name: 'RepositoryNotFoundException' });
    await assert.rejects(admin.send(new DescribeImageTagsCommand({ repositoryName: 'nope/none' })), { name: 'RepositoryNotFoundException' });
    await admin.send(new CreateRepositoryCommand({ repositoryName: 'twice/made' }));
    await assert.rejects(admin.send(new CreateRepositoryCommand({ repositoryName: 'twice/made' })), { name: 'RepositoryAlreadyExistsException' });
  });

  it('authorizes ecr-public actions by IAM policies', async () => {
    const iam = new IAMClient({ endpoint: berth.url, region: 'us-east-1', credentials: adminCredentials(berth), maxAttempts: 1 });
    const userClient = async (name: string, policy?: string) => {
      await iam.send(new CreateUserCommand({ UserName: name }));
      if (policy) await iam.send(new AttachUserPolicyCommand({ UserName: name, PolicyArn: `arn:aws:iam::aws:policy/${policy}` }));
      const key = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
      return publicClient({ accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! });
    };
    const nobody = await userClient('nobody');
    await assert.rejects(
      nobody.send(new DescribeRepositoriesCommand({})),
      (e: Error) => e.name === 'AccessDeniedException' && /ecr-public:DescribeRepositories/.test(e.message),
    );
    const power = await userClient('power', 'AmazonElasticContainerRegistryPublicPowerUser');
    assert.ok(Array.isArray((await power.send(new DescribeRepositoriesCommand({}))).repositories));
    await assert.rejects(power.send(new CreateRepositoryCommand({ repositoryName: 'power/made' })), { name: 'AccessDeniedException' });
    const full = await userClient('full', 'AmazonElasticContainerRegistryPublicFullAccess');
    await full.send(new CreateRepositoryCommand({ repositoryName: 'full/made' }));
    // The private ECR managed policies grant nothing on ECR Public.
    const privateFull = await userClient('private-full', 'AmazonEC2ContainerRegistryFullAccess');
    await assert.rejects(privateFull.send(new CreateRepositoryCommand({ repositoryName: 'private/made' })), { name: 'AccessDeniedException' });
    const res = await anonymous(`/v2/${ACCOUNT}/full/made/manifests/latest`);
    assert.equal(errorCode({ status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }), 'MANIFEST_UNKNOWN');
  });
});
