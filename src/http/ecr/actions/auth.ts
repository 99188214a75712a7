/** GetAuthorizationToken: the 12-hour /v2 password behind `aws ecr get-login-password`. */
import { z } from 'zod';
import type { EcrAction } from '../context.js';
import { parseInput, registryId } from '../input.js';

const input = z.object({ registryIds: z.array(registryId).min(1).max(10).optional() }).strict();

export const GetAuthorizationToken: EcrAction = async (call) => {
  const { registryIds } = parseInput(input, call.body);
  const { password, expiresAt } = call.loginTokens(call.principal);
  // Clients split the decoded token on ':' into exactly two parts; the password has none.
  const authorizationToken = Buffer.from(`AWS:${password}`).toString('base64');
  const proxyEndpoint = `${call.req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http'}://${call.registryHost}`;
  return {
    authorizationData: (registryIds ?? [call.accountId]).map(() => ({ authorizationToken, expiresAt, proxyEndpoint })),
  };
};
