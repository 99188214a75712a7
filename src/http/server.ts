/**
 * The HTTP server: one port for everything, told apart by the request. `POST /` with
 * X-Amz-Target is the ECR JSON API; `POST /` with a form body is the IAM/STS Query API; /v2 is
 * the OCI Distribution API. Knows HTTP and nothing about storage.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Codes, RegistryError } from '../core/errors.js';
import { registryIdOf } from '../registry/context.js';
import type { Registry } from '../registry/registry.js';
import { sendOciError } from './errors.js';
import type { Authenticator } from './authn.js';
import type { Authorizer } from './authz.js';
import type { LoginTokenIssuer } from './ecr/context.js';
import { isEcrRequest, routeEcr } from './ecr/router.js';
import { isQueryRequest } from './iam/query.js';
import { routeQuery, type QueryRouterOptions } from './iam/router.js';
import { routeOci } from './oci/router.js';
import { sendJson } from './oci/headers.js';

export interface HttpServerOptions {
  registry: Registry;
  log: Logger;
  authenticator: Authenticator;
  authorizer: Authorizer;
  loginTokens: LoginTokenIssuer;
  query: Omit<QueryRouterOptions, 'authenticator' | 'log'>;
  /** The region /v2 requests address. */
  region: string;
  /** host[:port] for repository URIs; the request's Host header when unset. */
  registryHost?: string;
}

export function createHttpServer(opts: HttpServerOptions): Server {
  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => {
    void handle(opts, req, res);
  });
  return server;
}

async function handle(opts: HttpServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = process.hrtime.bigint();
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
    if (opts.log.isLevelEnabled('debug')) {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      opts.log.debug({ method: req.method, url: req.url, status: res.statusCode, ms }, 'request');
    }
  });
  try {
    const rawUrl = req.url ?? '/';
    if (rawUrl.length > 8192) throw new RegistryError(Codes.NotFound, 'URL too long');
    const url = new URL(rawUrl, 'http://berth.invalid');
    const path = url.pathname;
    if (path === '/' && isEcrRequest(req)) {
      await routeEcr(
        {
          registry: opts.registry,
          log: opts.log,
          authenticator: opts.authenticator,
          authorizer: opts.authorizer,
          loginTokens: opts.loginTokens,
          ...(opts.registryHost !== undefined && { registryHost: opts.registryHost }),
        },
        req,
        res,
      );
      return;
    }
    if (path === '/' && isQueryRequest(req)) {
      await routeQuery({ ...opts.query, authenticator: opts.authenticator, log: opts.log }, req, res);
      return;
    }
    if (path === '/v2' || path.startsWith('/v2/')) {
      const principal = opts.authenticator.basic(req);
      // Private by default: until repositories can be made public, /v2 needs a login.
      if (principal.kind === 'anonymous') throw new RegistryError(Codes.Unauthorized, 'authentication required');
      // Until hosts name accounts, a login token addresses its own account's registry.
      const accountId = principal.accountId;
      await routeOci(
        { req, res, url, registry: opts.registry, registryId: registryIdOf(accountId, opts.region), principal, authorizer: opts.authorizer, log: opts.log, signal: controller.signal },
        path === '/v2' ? '' : path.slice(4),
      );
      return;
    }
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    throw new RegistryError(Codes.NotFound, 'no such endpoint');
  } catch (err) {
    if (controller.signal.aborted) {
      res.destroy();
      return;
    }
    await sendOciError(req, res, err, opts.log);
  }
}
