/**
 * What authentication and authorization cost Berth: the same manifest read anonymously from a
 * public repository (no token, no policy evaluation) and with HTTP Basic login tokens on every
 * request, as the admin (root) and as an IAM user holding the PowerUser managed policy; and
 * GetAuthorizationToken itself, SigV4-signed. The bar: authorized reads keep ≥ 90% of
 * the anonymous rate.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { CreateRepositoryCommand, ECRPUBLICClient } from '@aws-sdk/client-ecr-public';
import { AttachUserPolicyCommand, CreateAccessKeyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Credentials } from '../test/e2e/helpers/ecr-client.js';
import { requestRate } from './http-client.js';
import type { Server } from './servers.js';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';

export interface AuthSetup {
  /** Where the seeded image is readable anonymously. */
  publicManifestPath: string;
  /** The same image in a private repository. */
  privateManifestPath: string;
  userAuthorization: string;
  signedTokenRequest: { headers: Record<string, string>; body: string };
}

/** Creates the public repository and the IAM user; `seed` pushes the image into a repository. */
export async function prepareAuthCost(server: Server, admin: Credentials, seed: (repo: string) => Promise<string>): Promise<AuthSetup> {
  const pub = new ECRPUBLICClient({ endpoint: server.url, region: REGION, credentials: admin, maxAttempts: 1 });
  await pub.send(new CreateRepositoryCommand({ repositoryName: 'bench/public' }));
  const publicManifestPath = await seed(`${ACCOUNT}/bench/public`);
  const privateManifestPath = await seed('bench/private');

  const iam = new IAMClient({ endpoint: server.url, region: REGION, credentials: admin, maxAttempts: 1 });
  await iam.send(new CreateUserCommand({ UserName: 'bench' }));
  await iam.send(new AttachUserPolicyCommand({ UserName: 'bench', PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser' }));
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'bench' }))).AccessKey!;
  const user = { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
  const ecr = new ECRClient({ endpoint: server.url, region: REGION, credentials: user, maxAttempts: 1 });
  const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!.authorizationToken!;

  return { publicManifestPath, privateManifestPath, userAuthorization: `Basic ${token}`, signedTokenRequest: await signTokenRequest(server, user) };
}

/**
 * One signed GetAuthorizationToken request, replayed under load: signing is the client's cost,
 * not the server's, and a signature stays valid for the 15-minute skew window.
 */
async function signTokenRequest(server: Server, credentials: Credentials): Promise<{ headers: Record<string, string>; body: string }> {
  const url = new URL(server.url);
  const body = '{}';
  const signer = new SignatureV4({ service: 'ecr', region: REGION, credentials, sha256: Sha256 });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken',
      },
      body,
    }),
  );
  return { headers: signed.headers as Record<string, string>, body };
}

/** Records each figure through `record`, all on the Berth server. */
export async function measureAuthCost(
  server: Server,
  setup: AuthSetup,
  load: { connections: number; seconds: number },
  record: (name: string, value: number) => void,
): Promise<void> {
  const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
  const anonymous = { ...server, headers: {} };
  const rate = async (name: string, p: () => Promise<{ perSecond: number; errors: number }>) => {
    const r = await p();
    if (r.errors > 0) console.error(`${server.name}: ${r.errors} failed requests measuring ${name}`);
    record(name, r.perSecond);
  };
  await rate('manifest GET req/s, anonymous (public repo)', () => requestRate(anonymous, 'GET', setup.publicManifestPath, { ...load, headers: accept }));
  await rate('manifest GET req/s, Basic token (root)', () => requestRate(server, 'GET', setup.privateManifestPath, { ...load, headers: accept }));
  await rate('manifest GET req/s, Basic token (IAM user)', () =>
    requestRate(anonymous, 'GET', setup.privateManifestPath, { ...load, headers: { ...accept, Authorization: setup.userAuthorization } }),
  );
  await rate('GetAuthorizationToken req/s (SigV4)', () =>
    requestRate(anonymous, 'POST', '/', { ...load, headers: setup.signedTokenRequest.headers, body: setup.signedTokenRequest.body }),
  );
}
