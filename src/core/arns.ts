/**
 * Names of repositories as AWS writes them. An account's ECR Public registry is the registry of
 * the pseudo-region `public`: its own namespace, with `ecr-public` ARNs that carry no region.
 */

export const PUBLIC_REGION = 'public';

export function repositoryArn(region: string, accountId: string, name: string): string {
  return region === PUBLIC_REGION ? `arn:aws:ecr-public::${accountId}:repository/${name}` : `arn:aws:ecr:${region}:${accountId}:repository/${name}`;
}

export interface RepositoryArn {
  service: 'ecr' | 'ecr-public';
  /** `public` for ecr-public ARNs. */
  region: string;
  accountId: string;
  name: string;
}

const ARN_RE = /^arn:aws(?:-cn|-us-gov)?:(ecr|ecr-public):([a-z0-9-]*):(\d{12}):repository\/(.+)$/;

export function parseRepositoryArn(arn: string): RepositoryArn | undefined {
  const m = ARN_RE.exec(arn);
  if (!m) return undefined;
  const service = m[1] as 'ecr' | 'ecr-public';
  if ((service === 'ecr-public') !== (m[2] === '')) return undefined;
  return { service, region: service === 'ecr-public' ? PUBLIC_REGION : m[2]!, accountId: m[3]!, name: m[4]! };
}

/**
 * The account, region and name of an AWS Signer signing profile ARN
 * (`arn:aws:signer:<region>:<account>:/signing-profiles/<name>`); undefined for anything else,
 * other partitions included (Berth's signer holds profiles of its own partition only).
 */
export function parseSigningProfileArn(arn: string): { accountId: string; region: string; name: string } | undefined {
  const m = /^arn:aws:signer:([a-z0-9-]+):(\d{12}):\/signing-profiles\/([a-zA-Z0-9_]{2,64})$/.exec(arn);
  return m ? { region: m[1]!, accountId: m[2]!, name: m[3]! } : undefined;
}

export function signingProfileArn(scope: { accountId: string; region: string }, name: string): string {
  return `arn:aws:signer:${scope.region}:${scope.accountId}:/signing-profiles/${name}`;
}
