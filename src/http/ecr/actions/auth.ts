/** GetAuthorizationToken: the 12-hour /v2 password behind `aws ecr get-login-password`. */
import { z } from 'zod';
import type { EcrAction } from '../context.js';
import { externalScheme } from '../../request.js';
import { parseInput, registryId } from '../input.js';

const input = z.object({ registryIds: z.array(registryId).min(1).max(10).optional() }).strict();

export const GetAuthorizationToken: EcrAction = async (call) => {
  const { registryIds } = parseInput(input, call.body);
  const { password, expiresAt } = call.loginTokens(call.principal);
  // Clients split the decoded token on ':' into exactly two parts; the password has none.
  const authorizationToken = Buffer.from(`AWS:${password}`).toString('base64');
  const scheme = externalScheme(call.req);
  // One token serves every registry (its principal is checked against each one's policies); the
  // endpoint is each registry's own host when account hosts are configured, as ECR's are.
  return {
    authorizationData: (registryIds ?? [call.accountId]).map((id) => ({
      authorizationToken,
      expiresAt,
      proxyEndpoint: `${scheme}://${call.v2Location(id).host}`,
    })),
  };
};
