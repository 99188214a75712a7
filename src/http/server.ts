/**
 * The HTTP server: one port for everything, told apart by the request. `POST /` with
 * X-Amz-Target is the ECR JSON API (or ECR Public's, or KMS's: `TrentService.<Op>`); `POST /`
 * with a form body is the IAM/STS Query API; /v2 is the OCI Distribution API. Knows HTTP and
 * nothing about storage.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { Codes, RegistryError } from '../core/errors.js';
import type { LifecyclePreviews } from '../lifecycle/previews.js';
import type { Registry } from '../registry/registry.js';
import { sendOciError } from './errors.js';
import { refusedBearer, type Authenticator } from './authn.js';
import type { Authorizer } from './authz.js';
import type { LoginTokenIssuer } from './ecr/context.js';
import { isEcrRequest, rejectUnknownJsonApi, routeEcr, routeJsonApi, type EcrRouterOptions } from './ecr/router.js';
import { serveCatalogLogo } from './ecr-public/catalog.js';
import { ECR_PUBLIC_API, isEcrPublicRequest } from './ecr-public/router.js';
import { addressV2 } from './oci/addressing.js';
import { v2Target, type V2Target } from './registry-address.js';
import { isQueryRequest } from './iam/query.js';
import { routeQuery, type QueryRouterOptions } from './iam/router.js';
import { isKmsRequest, routeKms, type KmsRouterOptions } from './kms/router.js';
import { isEventsRequest, routeEvents, type EventsRouterOptions } from './events/router.js';
import { isCloudTrailRequest, routeCloudTrail, type CloudTrailRouterOptions } from './cloudtrail/router.js';
import { KmsAuthorizer } from './kms/authz.js';
import type { KeyUseJudge } from './kms-key-use.js';
import { isSecretsRequest, routeSecrets, type SecretsRouterOptions } from './secrets/router.js';
import { isSignerPath, routeSigner, type SignerRouterOptions } from './signer/router.js';
import type { AuditStore } from '../metadata/audit-rows.js';
import type { PullThroughCache } from '../pullthrough/cache.js';
import { noteOciOperation, routeOci } from './oci/router.js';
import { sendJson } from './oci/headers.js';
import { BodyPacer } from './body-pacing.js';
import { createServerFor, DEFAULT_HTTP2_LIMITS, type BerthServer, type Http2Limits } from './h2.js';
import { markFreshPieces } from '../core/fresh-pieces.js';
import { adoptAuthority, isHttp2 } from './request.js';
import { DEFAULT_SLOW_CLIENT_LIMITS, limitIdleConnections, ResponseWatch, serverOptions, watchRequest, type SlowClientLimits } from './slow-clients.js';
import { limitConnectionsPerSource, type SourceLimit } from './source-limit.js';
import type { KeyPair } from './tls.js';
import { timeAnswer } from './server-timing.js';
import { beginRequest, noteRegistry, type RequestObserver } from './request-facts.js';
import { routeConsole, type ConsoleDoor, type ConsoleOptions } from './console/door.js';
import { basicChallenge, v2Challenge, type ChallengeScheme } from './token/challenge.js';
import { isTokenPath, routeToken, type BearerTokenIssuer } from './token/endpoint.js';

export interface HttpServerOptions {
  registry: Registry;
  log: Logger;
  authenticator: Authenticator;
  authorizer: Authorizer;
  loginTokens: LoginTokenIssuer;
  /** Mints the token endpoint's Bearer tokens (token/endpoint.ts). */
  bearerTokens: BearerTokenIssuer;
  /** What a 401 on /v2 asks for: a Bearer token from the token endpoint (default), or ECR's Basic login. */
  v2Challenge?: ChallengeScheme;
  lifecyclePreviews: LifecyclePreviews;
  query: Omit<QueryRouterOptions, 'authenticator' | 'log'>;
  /** The region /v2 requests address. */
  region: string;
  /** host[:port] for repository URIs; the request's Host header when unset. */
  registryHost?: string;
  /**
   * The KMS service the AWS KMS API (`aws kms`, `@aws-sdk/client-kms`) serves and who may use
   * its keys, both built by the composition root; unset, every KMS API request is refused with
   * UnsupportedOperationException.
   */
  kms?: KmsRouterOptions['kms'];
  /** EventBridge's rules and targets (`aws events`), built by the composition root; unset, refused. */
  events?: EventsRouterOptions['events'];
  /** Secrets Manager's secrets (`aws secretsmanager`), built by the composition root; unset, refused. */
  secrets?: SecretsRouterOptions['secrets'];
  /** AWS Signer's signing profiles (managed signing's keys). */
  signer?: SignerRouterOptions['signer'];
  /** The pull-through cache's rules (ECR's *PullThroughCacheRule* actions); unset, refused. */
  pullThrough?: EcrRouterOptions['pullThrough'];
  /** The pull-through cache's pull path (/v2 and the ECR API); unset, pulls never go upstream. */
  pullThroughCache?: PullThroughCache;
  /** Bounds on slow and idle clients; defaults when unset. */
  slowClients?: SlowClientLimits;
  /** Connections open at once (Node's server.maxConnections: more are closed as they arrive); unbounded when unset. */
  maxConnections?: number;
  /** Connections open at once from one client address (source-limit.ts: more are closed as they arrive); unbounded when unset. */
  maxConnectionsPerSource?: number;
  /** Told of the per-source bound once it is in place (its refusals are a metric). */
  sourceLimited?: (limit: SourceLimit) => void;
  /** HTTPS with this certificate and key (see tls.ts), offering h2 and HTTP/1.1; plain HTTP/1.1 when unset. */
  tls?: KeyPair;
  /**
   * Told of every request when its response closes (the access log, and any other report
   * composed in); every answer carries a request id whether or not anyone observes.
   */
  observers?: readonly RequestObserver[];
  /** Bounds on an h2 session (and the header size on both protocols); defaults when unset. */
  http2?: Http2Limits;
  /** Every answer says how long it took to make (`Server-Timing`, server-timing.ts); off when unset. */
  serverTiming?: boolean;
  /** The audit trail LookupEvents reads (CloudTrail's API); unset when the trail is off. */
  audit?: AuditStore;
  /** The web console (/console/: its files, sessions and API); unset, /console/ is not found. */
  console?: ConsoleOptions;
}

export function createHttpServer(opts: HttpServerOptions): BerthServer {
  const kms = kmsOptions(opts);
  // Built once: the authorizers' policy caches outlive requests (the ECR doors' KMS key-use
  // judge was built per request until session 34, a fresh authorizer and cache each time).
  const cloudTrail = cloudTrailOptions(opts);
  const ecr = ecrOptions(opts);
  const consoleDoor = opts.console && consoleDoorOf(opts, ecr, opts.console, cloudTrail.authorizer);
  const limits = opts.slowClients ?? DEFAULT_SLOW_CLIENT_LIMITS;
  const pacer = new BodyPacer();
  const responses = new ResponseWatch(limits);
  const server = createServerFor(opts.tls, serverOptions(limits), { ...limits, ...(opts.http2 ?? DEFAULT_HTTP2_LIMITS) }, (req, res) => {
    if (opts.serverTiming) timeAnswer(res, performance.now());
    watchRequest(req, limits);
    responses.watch(req, res);
    pacer.pace(req);
    // Node's HTTP/1.1 parser copies every body piece into a Buffer of its own (core/fresh-pieces.ts).
    if (!isHttp2(req)) markFreshPieces(req);
    return handle(opts, { kms, cloudTrail, ecr, ...(consoleDoor && { console: consoleDoor }) }, req, res);
  });
  limitIdleConnections(server, limits);
  // A TLS connection's bytes are counted on its TLS socket, and its progress read from the TCP one under it (slow-clients.ts, tlsMeter).
  server.on(opts.tls ? 'secureConnection' : 'connection', (socket: Socket) => responses.connection(socket, opts.tls !== undefined));
  server.once('close', () => responses.close());
  if (opts.maxConnections !== undefined) server.maxConnections = opts.maxConnections;
  if (opts.maxConnectionsPerSource !== undefined) opts.sourceLimited?.(limitConnectionsPerSource(server, opts.maxConnectionsPerSource));
  return server;
}

function ecrOptions(opts: HttpServerOptions): EcrRouterOptions {
  return {
    registry: opts.registry,
    log: opts.log,
    authenticator: opts.authenticator,
    authorizer: opts.authorizer,
    loginTokens: opts.loginTokens,
    lifecyclePreviews: opts.lifecyclePreviews,
    region: opts.region,
    ...(opts.registryHost !== undefined && { registryHost: opts.registryHost }),
    ...(opts.pullThrough && { pullThrough: opts.pullThrough }),
    ...(opts.pullThroughCache && { pullThroughCache: opts.pullThroughCache }),
    ...(opts.secrets && { secrets: opts.secrets }),
    keyUse: keyUseJudge(opts),
  };
}

/** KMS's authorizer and Berth's keys, for what a repository's KMS key asks of its creator. */
function keyUseJudge(opts: HttpServerOptions): KeyUseJudge {
  if (!opts.kms) return { authorizer: new KmsAuthorizer(opts.query.identities, opts.query.clock), findKey: async () => undefined };
  const { authorizer, service } = opts.kms;
  return { authorizer, findKey: (arn) => service.keys.findByArn(arn) };
}

function consoleDoorOf(
  opts: HttpServerOptions,
  ecrDoor: EcrRouterOptions,
  console: ConsoleOptions,
  iamAuthorizer: CloudTrailRouterOptions['authorizer'],
): ConsoleDoor {
  const { authenticator: _, ...ecr } = ecrDoor;
  return {
    ...console,
    authenticator: opts.authenticator,
    authorizer: opts.authorizer,
    identities: opts.query.identities,
    ecr,
    // IAM actions are decided as the Query door decides them (routeQuery's authorizer below).
    iam: { ...opts.query, authorizer: opts.query.authorizer ?? iamAuthorizer, log: opts.log },
    region: opts.region,
    registryHost: opts.registryHost,
    log: opts.log,
  };
}

function cloudTrailOptions(opts: HttpServerOptions): CloudTrailRouterOptions {
  return {
    authenticator: opts.authenticator,
    authorizer: opts.kms?.authorizer ?? new KmsAuthorizer(opts.query.identities, opts.query.clock),
    log: opts.log,
    region: opts.region,
    ...(opts.audit && { audit: opts.audit }),
  };
}

function kmsOptions(opts: HttpServerOptions): KmsRouterOptions {
  return { authenticator: opts.authenticator, log: opts.log, region: opts.region, ...(opts.kms && { kms: opts.kms }) };
}

async function handle(
  opts: HttpServerOptions,
  doors: { kms: KmsRouterOptions; cloudTrail: CloudTrailRouterOptions; ecr: EcrRouterOptions; console?: ConsoleDoor },
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  beginRequest(req, res, opts.observers ?? []);
  // Every answer, whatever door: a browser must read none as other than its Content-Type says
  // (a blob or an error echoing the caller's words sniffed as HTML would be script on Berth's origin).
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // A client's hang-up is an 'error' on the request. Whoever reads the body hears it through
  // its own listeners; once none is listening (the store already gave up), it must not end the process.
  req.on('error', () => undefined);
  const controller = new AbortController();
  // What a 401 asks for: ECR's Basic challenge (/token's own 401), set once the request is known to be a /v2 one.
  let challenge = (r: IncomingMessage): string => basicChallenge(r, opts.registryHost);
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  try {
    adoptAuthority(req);
    const rawUrl = req.url ?? '/';
    if (rawUrl.length > 8192) throw new RegistryError(Codes.NotFound, 'URL too long');
    const url = new URL(rawUrl, 'http://berth.invalid');
    const path = url.pathname;
    if (path === '/' && isEcrRequest(req)) {
      await routeEcr(doors.ecr, req, res);
      return;
    }
    if (path === '/' && isEcrPublicRequest(req)) {
      await routeJsonApi(ECR_PUBLIC_API, doors.ecr, req, res);
      return;
    }
    if (path === '/' && isKmsRequest(req)) {
      await routeKms(doors.kms, req, res);
      return;
    }
    if (path === '/' && isCloudTrailRequest(req)) {
      await routeCloudTrail(doors.cloudTrail, req, res);
      return;
    }
    if (path === '/' && isEventsRequest(req)) {
      await routeEvents({ authenticator: opts.authenticator, log: opts.log, region: opts.region, ...(opts.events && { events: opts.events }) }, req, res);
      return;
    }
    if (path === '/' && isSecretsRequest(req)) {
      await routeSecrets({ authenticator: opts.authenticator, log: opts.log, region: opts.region, ...(opts.secrets && { secrets: opts.secrets }) }, req, res);
      return;
    }
    if (isSignerPath(path)) {
      await routeSigner({ authenticator: opts.authenticator, log: opts.log, region: opts.region, ...(opts.signer && { signer: opts.signer }) }, req, res, url);
      return;
    }
    if (path === '/' && req.method === 'POST' && req.headers['x-amz-target'] !== undefined) {
      await rejectUnknownJsonApi(req, res, opts.log);
      return;
    }
    if (path === '/' && isQueryRequest(req)) {
      // IAM actions are decided like CloudTrail's: any action on any ARN, from identity policies.
      await routeQuery(
        { authorizer: doors.cloudTrail.authorizer, ...opts.query, authenticator: opts.authenticator, log: opts.log, region: opts.region },
        req,
        res,
      );
      return;
    }
    if (isTokenPath(path)) {
      await routeToken({ authenticator: opts.authenticator, bearerTokens: opts.bearerTokens, registry: opts.registry }, req, res, url);
      return;
    }
    if (path === '/v2' || path.startsWith('/v2/')) {
      const sub = path === '/v2' ? '' : path.slice(4);
      challenge = (r) => v2Challenge(r, sub, opts.v2Challenge ?? 'bearer', opts.registryHost, refusedBearer(r));
      let target: V2Target;
      try {
        target = v2Target(req.headers.host, sub, opts.registryHost);
      } catch (err) {
        // A refused Host or account: the answer's observers still hear what was asked.
        noteOciOperation(req, sub);
        throw err;
      }
      const route = noteOciOperation(req, target.path);
      const principal = await opts.authenticator.v2(req);
      const address = await addressV2(opts.registry, principal, target, opts.region);
      noteRegistry(req, address.registryKey, address.publicAlias);
      await routeOci(
        {
          req,
          res,
          url,
          registry: opts.registry,
          ...address,
          ...(target.prefix !== undefined && { pathPrefix: target.prefix }),
          principal,
          authorizer: opts.authorizer,
          log: opts.log,
          signal: controller.signal,
          ...(opts.pullThroughCache && { pullThrough: opts.pullThroughCache }),
        },
        target.path,
        route,
      );
      return;
    }
    if (doors.console && (path === '/console' || path.startsWith('/console/'))) {
      await routeConsole(doors.console, req, res, path);
      return;
    }
    // A browser opening the registry's address lands on the console; API clients never ask for HTML.
    if (doors.console && path === '/' && req.method === 'GET' && /\btext\/html\b/.test(req.headers.accept ?? '')) {
      res.writeHead(302, { Location: '/console/', 'Content-Length': 0 });
      res.end();
      return;
    }
    if (req.method === 'GET' && path.startsWith('/catalog-logo/')) {
      await serveCatalogLogo(opts.registry, path, res);
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
    await sendOciError(req, res, err, opts.log, challenge);
  }
}
