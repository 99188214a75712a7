/**
 * The one composition root: the registry core over the configured stores (open-registry.ts),
 * wired to the HTTP server and the background features; owns their lifecycle.
 */
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.js';
import { registryKey } from '../core/registry-key.js';
import { guardedFetch } from '../core/guarded-fetch.js';
import { ReachPolicy } from '../core/outbound-reach.js';
import type { Config } from '../config/schema.js';
import { IdentityAdmin } from '../auth/identity-admin.js';
import { openSecret, sealSecret } from '../auth/access-keys.js';
import { issueBearerToken, loginTokenFor } from '../auth/login-token.js';
import { issueReplicationToken } from '../auth/replication-token.js';
import { SignInThrottle } from '../auth/sign-in-throttle.js';
import { SecurityTokenService } from '../auth/sts.js';
import { WebIdentityVerifier } from '../auth/web-identity.js';
import type { EventDeliverer } from '../events/deliverer.js';
import { EventBridgeService, type SecretBox } from '../events/service.js';
import { SecretsService } from '../secrets/secrets.js';
import { SigningProfiles } from '../signer/profiles.js';
import { PullThroughRules } from '../pullthrough/rules.js';
import { PullThroughCache } from '../pullthrough/cache.js';
import { Authenticator } from '../http/authn.js';
import { AccessLog } from '../http/access-log.js';
import type { RequestObserver } from '../http/request-facts.js';
import { Authorizer } from '../http/authz.js';
import { KmsAuthorizer } from '../http/kms/authz.js';
import { verifyViaService } from '../auth/via-service.js';
import { apiDestinationInvoker } from '../http/events/target-role.js';
import { templateKeyUse } from '../http/kms-key-use.js';
import { beginClose, closeAllConnections, type BerthServer } from '../http/h2.js';
import { createHttpServer } from '../http/server.js';
import type { SourceLimit } from '../http/source-limit.js';
import { CertificateReloader, describeCertificate, isHttps, isLoopback, readKeyPair } from '../http/tls.js';
import { KmsService } from '../kms/kms-service.js';
import { LifecyclePreviews } from '../lifecycle/previews.js';
import { BerthMetrics } from '../metrics/metrics.js';
import { createMetricsServer } from '../metrics/metrics-server.js';
import { RequestMetrics } from '../metrics/request-metrics.js';
import { UsageRecorder } from '../metrics/usage-recorder.js';
import { createAudit } from './audit.js';
import type { JobWorker } from '../jobs/worker.js';
import { createBackground } from './background.js';
import { createConsole } from './console.js';
import { createAccessLogFile, createLogger } from './logger.js';
import { bootstrapAdmin } from './bootstrap.js';
import type { PeriodicTask } from './periodic.js';
import { checkIdentityPolicy } from './policy-checks.js';
import { loadServerKey } from './server-key.js';
import { openRegistry, type AppOptions } from './open-registry.js';
import type { Registry } from '../registry/registry.js';
import { pushCreatesRepository } from '../registry/repositories.js';

// The registry's entry stays app.js for the commands that open it alone (gc, lifecycle, vulndb):
// test/e2e/cli.test.ts checks that help and usage never load it, and that gc does.
export { openRegistry, type AppOptions } from './open-registry.js';

const SHUTDOWN_GRACE_MS = 10_000;
const EVENTS_SECRET_CONTEXT = 'events-connection';
const SECRETS_MANAGER_CONTEXT = 'secretsmanager-value';
const SIGNING_KEY_CONTEXT = 'signer-profile-key';

export interface App {
  readonly config: Config;
  readonly registry: Registry;
  readonly server: BerthServer;
  readonly log: Logger;
  /** Periodic background tasks, started by listen() and stopped by close(). */
  tasks: PeriodicTask[];
  /** The worker of scans (and re-evaluations), started by listen(); a test stops it to let a queue build. */
  readonly scanJobs: JobWorker;
  /** The node's event deliverer, started by listen(); a test stops it to let the outbox fill. */
  readonly eventDeliverer: EventDeliverer;
  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number>;
  /** The metrics listener's port once listening; undefined when metrics are off. */
  metricsPort(): number | undefined;
  /** Re-reads the TLS certificate and key (SIGHUP); false when TLS is off or the new pair was refused. */
  reloadTls(): boolean;
  /** Starts a new access-log file at the configured path (SIGHUP, after logrotate moved the old one). */
  reopenLogs(): void;
  close(): Promise<void>;
}

export async function createApp(config: Config, opts: AppOptions = {}): Promise<App> {
  // Read first: a pair that cannot be served stops the start before anything is opened.
  const tlsFiles = config.tlsCert !== undefined && config.tlsKey !== undefined ? { cert: config.tlsCert, key: config.tlsKey } : undefined;
  const tls = tlsFiles && readKeyPair(tlsFiles);
  const log = opts.log ?? createLogger(config);
  const dataDir = resolve(config.dataDir);
  const clock = opts.clock ?? systemClock;
  const accessLogFile = config.accessLog === undefined ? undefined : createAccessLogFile(config.accessLog);
  const registry = await openRegistry(config, { ...opts, clock, log });
  const { meta, authzChanges } = registry.ctx;
  const serverKey = loadServerKey({ dataDir, ...(config.serverKey !== undefined && { configured: config.serverKey }) });
  const identities = new IdentityAdmin(meta.identities, clock, serverKey, authzChanges, meta.roles, meta.loginProfiles, meta.customerPolicies, meta.groups);
  // Connection credentials of EventBridge API destinations, sealed at rest under the server key.
  const secrets: SecretBox = { seal: (s) => sealSecret(s, serverKey, EVENTS_SECRET_CONTEXT), open: (s) => openSecret(s, serverKey, EVENTS_SECRET_CONTEXT) };
  // Secrets Manager's values, sealed at rest under the server key (their own context: never opened as anything else).
  const secretsManager = new SecretsService(meta.documents, clock, {
    seal: (s) => sealSecret(s, serverKey, SECRETS_MANAGER_CONTEXT),
    open: (s) => openSecret(s, serverKey, SECRETS_MANAGER_CONTEXT),
  });
  // Signing profiles' private keys, sealed at rest under the server key (their own context).
  const signingProfiles = new SigningProfiles(
    meta.documents,
    clock,
    {
      seal: (s) => sealSecret(s, serverKey, SIGNING_KEY_CONTEXT),
      open: (s) => openSecret(s, serverKey, SIGNING_KEY_CONTEXT),
    },
    (scope) => registry.quotas.value(registryKey(scope.accountId, scope.region), 'signingProfiles'),
  );
  // Built once per server: the authorizer's policy cache outlives requests.
  const kmsService = new KmsService(registry.kms);
  const kmsAuthorizer = new KmsAuthorizer(identities, clock, { ttlMs: config.authzCacheSeconds * 1000, changes: authzChanges });
  // A creation template's KMS key asks its role for KMS's permissions when a repository is made from it.
  registry.ctx.templateKeyUse = (key, template) =>
    templateKeyUse({ authorizer: kmsAuthorizer, findKey: (arn) => registry.kms.findByArn(arn) }, identities, key, template);
  let sourceLimit: SourceLimit | undefined;
  // Transfer for `berth usage` is always recorded; Prometheus metrics only with a metrics port.
  const usage = new UsageRecorder({ usage: meta.usage, clock, log });
  const metrics =
    config.metricsPort === undefined
      ? undefined
      : new BerthMetrics({
          usage: meta.usage,
          replication: meta.replication,
          archive: meta.archive,
          clock,
          ...(config.storage === undefined && { blobDir: dataDir }),
          ...(registry.ctx.budgets && { budgets: registry.ctx.budgets }),
          sourceRefusals: () => sourceLimit?.refused ?? 0,
          sealSlots: () => registry.sealing.residentBlocks(),
        });
  const metricsServer = metrics && createMetricsServer(metrics, log);
  let metricsPort: number | undefined;
  const audit = createAudit(config, meta, clock, log);
  // Failed console sign-ins and ChangePassword's wrong old passwords, counted together.
  const signInThrottle = new SignInThrottle(clock);
  const authenticator = new Authenticator(identities, clock, [serverKey], { ttlMs: config.authzCacheSeconds * 1000, changes: authzChanges }, config.region);
  // One reach policy for every URL users name (outbound-reach.ts). Its log line names the host
  // and address only: a refused URL's path or query may carry a secret.
  const reach = new ReachPolicy({ outboundAllow: config.outboundAllow, outboundDeny: config.outboundDeny }, (r) =>
    log.warn({ host: r.host, address: r.address, reason: r.reason }, 'outbound request refused by the reach policy (outboundAllow, outboundDeny)'),
  );
  if (identities.roles) identities.roles.reach = reach;
  const pullThroughRules = new PullThroughRules(meta.documents, secretsManager, clock, {
    allowHttp: config.pullThroughAllowHttp,
    reach,
    upstreamLimits: { headersTimeoutMs: config.pullThroughUpstreamTimeoutSeconds * 1000 },
  });
  // Blob fetches from upstream spool here (each file unlinked once open: nothing outlives them).
  const pullThroughSpool = join(dataDir, 'pull-through-spool');
  mkdirSync(pullThroughSpool, { recursive: true, mode: 0o700 });
  const server = createHttpServer({
    registry,
    log,
    // Other reports of each request (audit, metrics) join the access log here.
    observers: [
      ...accessLogObservers(new AccessLog(log, accessLogFile?.log)),
      usage,
      ...(metrics ? [new RequestMetrics(metrics.registry)] : []),
      ...(audit ? [audit.observer] : []),
    ],
    ...(audit && { audit: meta.audit }),
    authenticator,
    console: createConsole(config, { meta, clock, serverKey, authenticator, identities, throttle: signInThrottle }),
    authorizer: new Authorizer(
      identities,
      (registryKey, repository) => registry.policies.governing(registryKey, repository),
      (registryKey, name) => registry.repositories.resourceTagsIfAny({ registryKey, name }),
      { ttlMs: config.authzCacheSeconds * 1000, changes: authzChanges },
      { clock, pushCreates: (registryKey, name) => pushCreatesRepository(registry.ctx, { registryKey, name }) },
    ),
    lifecyclePreviews: new LifecyclePreviews(registry),
    loginTokens: (principal) => loginTokenFor(principal, clock.now(), serverKey, config.region),
    bearerTokens: (login) => {
      const now = clock.now();
      return { ...issueBearerToken(login, { now, key: serverKey, region: config.region }), issuedAt: now };
    },
    v2Challenge: config.v2Challenge,
    query: {
      identities,
      clock,
      checkPolicy: checkIdentityPolicy,
      passwordGuesses: signInThrottle,
      ...stsDoors(identities, clock, serverKey, config.region, reach),
    },
    kms: {
      service: kmsService,
      authorizer: kmsAuthorizer,
      // Another Berth's ECR (kmsProvider 'aws', sharing the server key) proves its requests are its own.
      viaService: (header, req) => verifyViaService(header, req, { now: clock.now(), keys: [serverKey] }),
    },
    events: {
      service: new EventBridgeService(meta.eventResources, clock, secrets, { allowHttp: config.eventsAllowHttp, reach }),
      // KMS's authorizer decides any action on any ARN from identity policies alone, as EventBridge does.
      authorizer: new KmsAuthorizer(identities, clock, { ttlMs: config.authzCacheSeconds * 1000, changes: authzChanges }),
    },
    pullThrough: pullThroughRules,
    pullThroughCache: new PullThroughCache(registry, pullThroughRules, meta.documents, clock, {
      spoolDir: pullThroughSpool,
      tagRecheckMs: config.pullThroughTagRecheckSeconds * 1000,
      upstreamTimeoutMs: config.pullThroughUpstreamTimeoutSeconds * 1000,
      maxFetches: config.pullThroughMaxFetches,
    }),
    secrets: {
      service: secretsManager,
      // Identity policies alone decide, as for EventBridge (Berth keeps no resource policies on secrets).
      authorizer: new KmsAuthorizer(identities, clock, { ttlMs: config.authzCacheSeconds * 1000, changes: authzChanges }),
      // A key that is not there (or an alias Berth does not make, such as aws/secretsmanager) is none.
      findKey: (accountId, keyRef) =>
        registry.kms.describe(accountId, config.region, keyRef).then(
          (k) => k,
          () => undefined,
        ),
    },
    signer: {
      profiles: signingProfiles,
      // Identity policies alone decide, as for Secrets Manager (Berth keeps no profile permissions).
      authorizer: new KmsAuthorizer(identities, clock, { ttlMs: config.authzCacheSeconds * 1000, changes: authzChanges }),
    },
    region: config.region,
    ...(config.registryHost !== undefined && { registryHost: config.registryHost }),
    slowClients: {
      headersTimeoutMs: config.headersTimeoutSeconds * 1000,
      idleTimeoutMs: config.idleTimeoutSeconds * 1000,
      bodyTimeoutMs: config.bodyTimeoutSeconds * 1000,
      bodyMinBytesPerSecond: config.bodyMinBytesPerSecond,
      responseTimeoutMs: config.responseTimeoutSeconds * 1000,
      responseMinBytesPerSecond: config.responseMinBytesPerSecond,
    },
    ...(config.maxConnections > 0 && { maxConnections: config.maxConnections }),
    ...(config.maxConnectionsPerSource > 0 && { maxConnectionsPerSource: config.maxConnectionsPerSource, sourceLimited: (l) => (sourceLimit = l) }),
    serverTiming: config.serverTiming,
    http2: { maxConcurrentStreams: config.http2MaxConcurrentStreams, maxHeaderBytes: config.maxHeaderBytes },
    ...(tls && { tls }),
  });
  const reloader = tlsFiles && tls && isHttps(server) ? new CertificateReloader(server, tlsFiles, tls, log) : undefined;

  let boundPort: number | undefined;
  const background = createBackground(config, registry, secrets, {
    usage,
    mayInvoke: apiDestinationInvoker(kmsAuthorizer, identities, config.region),
    signer: signingProfiles,
    ...(metrics && { telemetry: metrics }),
    replication: {
      // This region's own registries (cross-account replication) are reached through this
      // node's own listener, unless the configuration names the region's endpoint.
      endpointOf: (region) => {
        const configured = config.regions[region]?.endpoint;
        if (configured !== undefined || region !== config.region) return configured;
        // A job claimed in the moment between the worker's start and the listen: try again later.
        if (boundPort === undefined) throw new Error('this node is not listening yet');
        return `${tls ? 'https' : 'http'}://${loopbackOf(config.host)}:${boundPort}`;
      },
      credential: (claims) => issueReplicationToken(claims, { now: clock.now(), key: serverKey }),
    },
  });

  return {
    config,
    registry,
    server,
    log,
    tasks: audit ? [...background.tasks, audit.retention] : background.tasks,
    scanJobs: background.jobs,
    eventDeliverer: background.events,
    async listen() {
      await bootstrapAdmin({ identities, store: meta.identities, accountId: config.defaultAccountId, region: config.region, dataDir, log });
      background.start();
      audit?.start();
      const port = await listenOn(server, config.port, config.host);
      boundPort = port;
      for (const [region, peer] of Object.entries(config.regions)) {
        if (peer.endpoint.startsWith('http://')) {
          log.warn(
            { region, endpoint: peer.endpoint },
            'replication to this region crosses the network in clear (http://): use it only on loopback or a trusted network',
          );
        }
      }
      if (metricsServer) {
        const host = config.metricsHost;
        metricsPort = await metricsServer.listen(config.metricsPort ?? 0, host);
        log.info({ url: `http://${host.includes(':') ? `[${host}]` : host}:${metricsPort}/metrics` }, 'metrics on');
      }
      if (tls) {
        reloader?.watch();
        log.info(describeCertificate(tls.cert), 'serving HTTPS');
      } else if (!isLoopback(config.host)) {
        log.warn(
          { host: config.host },
          'serving plain HTTP beyond this machine: credentials and tokens cross the network in clear; set tlsCert and tlsKey (berth tls init makes a development pair)',
        );
      }
      return port;
    },
    metricsPort: () => metricsPort,
    reloadTls: () => reloader?.reload('SIGHUP') ?? false,
    reopenLogs: () => {
      accessLogFile?.reopen();
      audit?.reopen();
    },
    async close() {
      reloader?.close();
      metricsServer?.close();
      await new Promise<void>((res) => {
        // h2 sessions are told GOAWAY: their clients open no new stream here.
        beginClose(server, res);
        // In-flight requests get a grace period; an upload cut here resumes from its staged bytes.
        setTimeout(() => closeAllConnections(server), SHUTDOWN_GRACE_MS).unref();
      });
      await background.stop();
      // After the server closed: the last requests' records are flushed before the store closes.
      await audit?.stop();
      await registry.close();
      accessLogFile?.close();
    },
  };
}

/** STS and web identities over the roles (absent only from stores without them). */
function stsDoors(
  identities: IdentityAdmin,
  clock: Clock,
  serverKey: Buffer,
  region: string,
  reach: ReachPolicy,
): { sts?: SecurityTokenService; webIdentity?: WebIdentityVerifier } {
  if (!identities.roles) return {};
  const sts = new SecurityTokenService(identities.roles, clock, serverKey, region);
  // An issuer's discovery document and key set are fetched held to the reach policy.
  return { sts, webIdentity: new WebIdentityVerifier(identities.roles, sts, clock, guardedFetch(reach)) };
}

function listenOn(server: BerthServer, port: number, host: string): Promise<number> {
  return new Promise<number>((res, rej) => {
    server.once('error', rej);
    server.listen(port, host, () => {
      server.off('error', rej);
      const addr = server.address();
      res(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

/** An address of this node's own listener, for requests to itself. */
function loopbackOf(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** The access log observes only when it writes somewhere: an unobserved request costs no record. */
function accessLogObservers(accessLog: AccessLog): RequestObserver[] {
  return accessLog.enabled ? [accessLog] : [];
}
