/** STS's temporary credentials as the SDK clients take them, for tests that act as a session. */
import type { Credentials as StsCredentials } from '@aws-sdk/client-sts';
import type { Credentials as KeyPair } from '../../e2e/helpers/ecr-client.js';

/** An access key pair, with the session token of temporary credentials. */
export type Credentials = KeyPair & { sessionToken?: string };

/** The credentials of an AssumeRole or AssumeRoleWithWebIdentity answer. */
export const sessionKeys = (c: StsCredentials | undefined): Credentials => ({
  accessKeyId: c!.AccessKeyId!,
  secretAccessKey: c!.SecretAccessKey!,
  sessionToken: c!.SessionToken!,
});
