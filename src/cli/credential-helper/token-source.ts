/**
 * A registry login from ECR's GetAuthorizationToken, asked of Berth with the AWS SDK's own
 * settings: credentials from its default chain (environment, profile, SSO, assumed role, web
 * identity, container and instance roles) and the endpoint from its configured-endpoint settings
 * (`AWS_ENDPOINT_URL_ECR`, `AWS_ENDPOINT_URL`, a profile's `endpoint_url` or its `services`
 * section), else `https://<the host asked for>`, since a Berth host serves the ECR API too.
 */
import { ECRClient, GetAuthorizationTokenCommand, type AuthorizationData } from '@aws-sdk/client-ecr';
import { cacheKey, cachedLogin, storeLogin } from './token-cache.js';
import { HelperError, type Login } from './protocol.js';

const TIMEOUTS = { connectionTimeout: 10_000, requestTimeout: 30_000 };

export interface TokenSourceOptions {
  cacheFile: string;
  now: () => Date;
}

/** The endpoint the SDK is configured with for ECR, if any. */
async function configuredEndpoint(): Promise<string | undefined> {
  const probe = new ECRClient({});
  try {
    return await probe.config.serviceConfiguredEndpoint?.();
  } finally {
    probe.destroy();
  }
}

/** What the SDK could not do, in a line for stderr: never the request's credentials. */
function explain(err: unknown, endpoint: string): HelperError {
  const e = err as { name?: string; message?: string; code?: string };
  if (e.name === 'CredentialsProviderError') return new HelperError(`no AWS credentials: ${e.message ?? 'none found'}`);
  if (/region is missing/i.test(e.message ?? '')) return new HelperError('no AWS region: set AWS_REGION or a profile region');
  const what = e.code ?? e.name ?? 'Error';
  return new HelperError(`GetAuthorizationToken at ${endpoint} failed: ${what}: ${(e.message ?? '').slice(0, 300)}`);
}

export async function loginFor(host: string, opts: TokenSourceOptions): Promise<Login> {
  const endpoint = (await configuredEndpoint()) ?? `https://${host}`;
  const client = new ECRClient({ endpoint, maxAttempts: 2, requestHandler: TIMEOUTS });
  try {
    let accessKeyId: string;
    try {
      accessKeyId = (await client.config.credentials()).accessKeyId;
      await client.config.region();
    } catch (err) {
      throw explain(err, endpoint);
    }
    const key = cacheKey(endpoint, accessKeyId);
    const cached = await cachedLogin(opts.cacheFile, key, opts.now());
    if (cached) return cached;
    let data: AuthorizationData | undefined;
    try {
      data = (await client.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0];
    } catch (err) {
      throw explain(err, endpoint);
    }
    const decoded = data?.authorizationToken === undefined ? '' : Buffer.from(data.authorizationToken, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1 || data?.expiresAt === undefined) throw new HelperError(`GetAuthorizationToken at ${endpoint} answered no usable token`);
    const login = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), expiresAt: data.expiresAt };
    await storeLogin(opts.cacheFile, key, login, opts.now());
    return login;
  } finally {
    client.destroy();
  }
}
