/**
 * AWS Signer's REST-JSON API (SigV4 service `signer`) on the same endpoint, for what managed
 * signing needs: PutSigningProfile (PUT /signing-profiles/{name}), GetSigningProfile (GET),
 * CancelSigningProfile (DELETE) and ListSigningProfiles (GET /signing-profiles). Authorized as
 * `signer:<Op>` on the profile's ARN ("*" for the listing) from identity policies, as Secrets
 * Manager's door is. Any other Signer route answers UnknownOperationException.
 */
import { jsonObjectBody } from '../model/json.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import { isAuthError } from '../../auth/errors.js';
import { SignerCodes } from '../../core/errors.js';
import { profileArn, SignerError, type SignerScope, type SigningProfiles } from '../../signer/profiles.js';
import type { Authenticator } from '../authn.js';
import { requestOrigin } from '../condition-keys/global.js';
import { EcrError, sendEcrError, sendEcrJson } from '../ecr/protocol.js';
import { integer, modelPattern, oneOf } from '../model/constraints.js';
import { parseJsonInput } from '../model/json.js';
import { noteDenied, noteOperation } from '../request-facts.js';
import { readBody } from '../request.js';
import type { SecretsAuthorizer } from '../secrets/router.js';

const MAX_BODY_BYTES = 64 * 1024;
const PROFILE_NAME = z.string().min(2).max(64).regex(modelPattern('^[a-zA-Z0-9_]{2,}'));
const ACCOUNT_ID = z.string().min(12).max(12).regex(modelPattern('^[0-9]{12}$'));
const STATUS = oneOf(['Active', 'Canceled', 'Revoked']);

export interface SignerRouterOptions {
  authenticator: Authenticator;
  log: Logger;
  region: string;
  signer?: { profiles: SigningProfiles; authorizer: SecretsAuthorizer };
}

export function isSignerPath(path: string): boolean {
  return path === '/signing-profiles' || path.startsWith('/signing-profiles/') || path === '/signing-platforms' || path.startsWith('/signing-platforms/');
}

const putInput = z
  .object({
    profileName: PROFILE_NAME,
    platformId: z.string(),
    signatureValidityPeriod: z
      .object({ value: z.number().int(), type: oneOf(['DAYS', 'MONTHS', 'YEARS']) })
      .strict()
      .optional(),
    tags: z.record(z.string().min(1).max(128).regex(modelPattern('^(?!aws:)[a-zA-Z+-=._:/]+$')), z.string().max(256)).optional(),
    // Members of Signer's model for other platforms: a Notation profile's certificate is the signer's own.
    signingMaterial: z.object({ certificateArn: z.string() }).strict().optional(),
    overrides: z.record(z.string(), z.unknown()).optional(),
    signingParameters: z.record(z.string(), z.string()).optional(),
  })
  .strict();
/** What Signer's model takes but a Notation profile cannot use. */
const FOREIGN_MEMBERS = ['signingMaterial', 'overrides', 'signingParameters'] as const;
const getInput = z.object({ profileName: PROFILE_NAME, profileOwner: ACCOUNT_ID.optional() }).strict();
const listInput = z
  .object({
    includeCanceled: z.boolean().optional(),
    maxResults: integer(1, 25).optional(),
    nextToken: z.string().optional(),
    platformId: z.string().optional(),
    statuses: z.array(STATUS).optional(),
  })
  .strict();

const inputError = (kind: 'validation' | 'serialization', message: string) =>
  new EcrError(kind === 'validation' ? SignerCodes.Validation : SignerCodes.Serialization, message);

/** Which operation a method and path are, and the profile name the path carries. */
function operationOf(method: string, path: string): { op: string; name?: string } | undefined {
  if (path === '/signing-profiles' && method === 'GET') return { op: 'ListSigningProfiles' };
  const m = /^\/signing-profiles\/([^/]+)$/.exec(path);
  if (!m) return undefined;
  // A name that is no valid escape stays as sent: the name's pattern refuses it, never a 500.
  let name = m[1]!;
  try {
    name = decodeURIComponent(name);
  } catch {
    // kept as sent
  }
  if (method === 'PUT') return { op: 'PutSigningProfile', name };
  if (method === 'GET') return { op: 'GetSigningProfile', name };
  if (method === 'DELETE') return { op: 'CancelSigningProfile', name };
  return undefined;
}

export async function routeSigner(opts: SignerRouterOptions, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  try {
    const route = operationOf(req.method ?? 'GET', url.pathname);
    if (!route) throw new EcrError(SignerCodes.UnknownOperation, `Unknown operation ${(req.method ?? '').slice(0, 10)} ${url.pathname.slice(0, 100)}`);
    noteOperation(req, 'signer', route.op);
    const raw = await readBody(req, MAX_BODY_BYTES).catch(() => {
      throw new EcrError(SignerCodes.Serialization, 'request body is too large');
    });
    const { principal } = await opts.authenticator.signed(req, raw, ['signer'], [opts.region]);
    if (!opts.signer) throw new EcrError(SignerCodes.UnknownOperation, 'This Berth server does not serve the Signer API');
    const { profiles, authorizer } = opts.signer;
    const body = jsonObjectBody(raw, (m) => new EcrError(SignerCodes.Serialization, m));
    const scope: SignerScope = { accountId: principal.accountId, region: opts.region };
    const authorize = async (resource: string) => {
      await authorizer.check(principal, { action: `signer:${route.op}`, resource, origin: requestOrigin(req), region: opts.region }).catch((e: unknown) => {
        if (!(e instanceof EcrError)) throw e;
        noteDenied(req, `signer:${route.op}`, resource);
        // Signer answers a refusal with 403 (KMS's authorizer words it; Signer's status).
        throw new EcrError(SignerCodes.AccessDenied, e.message);
      });
    };
    noteOperation(req, 'signer', route.op, { params: { ...body, ...(route.name !== undefined && { profileName: route.name }) } });
    switch (route.op) {
      case 'PutSigningProfile': {
        const input = parseJsonInput(putInput, { ...body, profileName: route.name }, inputError);
        await authorize(profileArn(scope, input.profileName));
        const foreign = FOREIGN_MEMBERS.find((m) => input[m] !== undefined);
        if (foreign) throw new EcrError(SignerCodes.Validation, `${foreign} is not supported by the ${input.platformId.slice(0, 100)} platform.`);
        sendEcrJson(res, await profiles.put(scope, input));
        return;
      }
      case 'GetSigningProfile': {
        const input = parseJsonInput(getInput, { profileName: route.name, ...queryOf(url, ['profileOwner']) }, inputError);
        // Cross-account profile permissions (AddProfilePermission) are not served: another owner's profile is not found.
        const owned = input.profileOwner === undefined || input.profileOwner === scope.accountId;
        await authorize(profileArn({ ...scope, accountId: input.profileOwner ?? scope.accountId }, input.profileName));
        if (!owned) throw new SignerError(SignerCodes.ResourceNotFound, `Signing profile ${input.profileName} does not exist.`);
        sendEcrJson(res, await profiles.get(scope, input.profileName));
        return;
      }
      case 'CancelSigningProfile': {
        const input = parseJsonInput(getInput, { profileName: route.name }, inputError);
        await authorize(profileArn(scope, input.profileName));
        await profiles.cancel(scope, input.profileName);
        sendEcrJson(res, {});
        return;
      }
      default: {
        const q = queryOf(url, ['includeCanceled', 'maxResults', 'nextToken', 'platformId', 'statuses']);
        const input = parseJsonInput(
          listInput,
          {
            ...q,
            ...(q.includeCanceled !== undefined && { includeCanceled: q.includeCanceled === 'true' }),
            ...(q.maxResults !== undefined && { maxResults: Number(q.maxResults) }),
            ...(url.searchParams.has('statuses') && { statuses: url.searchParams.getAll('statuses') }),
          },
          inputError,
        );
        await authorize('*');
        const after = input.nextToken === undefined ? undefined : decodeNext(input.nextToken);
        const page = await profiles.list(scope, {
          includeCanceled: input.includeCanceled ?? false,
          limit: input.maxResults ?? 25,
          ...(input.statuses && { statuses: input.statuses }),
          ...(input.platformId !== undefined && { platformId: input.platformId }),
          ...(after !== undefined && { after }),
        });
        sendEcrJson(res, { profiles: page.profiles, ...(page.nextName !== undefined && { nextToken: Buffer.from(page.nextName).toString('base64url') }) });
        return;
      }
    }
  } catch (err) {
    let wire: unknown = err;
    if (err instanceof SignerError) wire = new EcrError(err.wire, err.message);
    else if (!(err instanceof EcrError) && !isAuthError(err)) {
      opts.log.error({ err }, 'signer request failed');
      wire = new EcrError(SignerCodes.Internal, 'An internal error occurred');
    }
    await sendEcrError(req, res, wire, opts.log);
  }
}

function queryOf(url: URL, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = url.searchParams.get(n);
    if (v !== null) out[n] = v;
  }
  return out;
}

function decodeNext(token: string): string {
  const name = Buffer.from(token, 'base64url').toString('utf8');
  if (!/^[a-zA-Z0-9_]{2,64}$/.test(name)) throw new EcrError(SignerCodes.Validation, 'The nextToken is not valid.');
  return name;
}
