/**
 * AWS clients pointed at a test Berth, signed with the admin access key Berth wrote to
 * `<data-dir>/admin-credentials` on first start.
 */
import { ECRClient } from '@aws-sdk/client-ecr';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import type { BerthProcess } from './berth-process.js';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export function adminCredentials(berth: Pick<BerthProcess, 'dataDir'>): Credentials {
  const text = readFileSync(join(berth.dataDir, 'admin-credentials'), 'utf8');
  const get = (k: string) => {
    const m = new RegExp(`^${k}\\s*=\\s*(\\S+)`, 'm').exec(text);
    if (!m) throw new Error(`admin-credentials has no ${k}`);
    return m[1]!;
  };
  return { accessKeyId: get('aws_access_key_id'), secretAccessKey: get('aws_secret_access_key') };
}

/** Signed for the server's region (us-east-1 unless it was started with another). */
export function ecrClient(
  berth: Pick<BerthProcess, 'url' | 'dataDir' | 'ca'> & { region?: string },
  credentials: Credentials = adminCredentials(berth),
): ECRClient {
  return new ECRClient({
    endpoint: berth.url,
    region: berth.region ?? 'us-east-1',
    credentials,
    maxAttempts: 1,
    ...(berth.ca !== undefined && { requestHandler: { httpsAgent: new Agent({ ca: readFileSync(berth.ca) }) } }),
  });
}

/** Environment for the `aws` CLI: Berth's endpoint, the admin key, and no user config. */
export function awsCliEnv(berth: Pick<BerthProcess, 'url' | 'region' | 'dataDir'>, credentials: Credentials = adminCredentials(berth)): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ENDPOINT_URL: berth.url,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_DEFAULT_REGION: berth.region,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
  };
}
