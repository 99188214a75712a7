/**
 * The registry core over the configured stores, without a server: the drivers, the byte threads
 * and the download budgets built from the parsed config. createApp (app.ts) serves it; `berth gc`,
 * `berth lifecycle` and `berth vulndb` work on it directly.
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { systemClock, type Clock } from '../core/clock.js';
import { DownloadBudget } from '../core/download-budget.js';
import { ChangeSignal } from '../core/expiring-cache.js';
import { KmsKeys } from '../kms/kms-keys.js';
import { RemoteKeys } from '../kms/remote-keys.js';
import type { MetadataStore } from '../metadata/types.js';
import { HashPool } from '../registry/hash-pool.js';
import { createRegistry, type Registry } from '../registry/registry.js';
import { OpenPool } from '../blobstore/encrypted/open-pool.js';
import { SealPool } from '../blobstore/encrypted/seal-pool.js';
import { ByteThreads } from '../blobstore/workers/threads.js';
import { openBlobVaults, type LocalBlobStore } from './blob-vaults.js';
import { checkpointsOn } from './byte-thread-checkpoints.js';
import { createLogger } from './logger.js';
import { logGcmInUse, logMissingAddons } from './native-addons.js';
import { openMetadata } from './open-stores.js';
import { loadServerKey } from './server-key.js';
import { serviceLimits } from './service-limits.js';

/**
 * How the app is built beyond the configuration. The two drivers are seams for the in-process
 * test harness (SQLite in memory, the memory blob store); everything else is composed as always.
 */
export interface AppOptions {
  clock?: Clock;
  log?: Logger;
  /** The metadata store, instead of the one the configuration names. */
  openMetadata?: (config: Config) => Promise<MetadataStore>;
  /** The store of a local blob directory, instead of the file system driver. */
  localBlobStore?: LocalBlobStore;
}

/**
 * The registry core over the configured stores, without a server: what createApp serves, and
 * what `berth lifecycle` and `berth gc` work on directly (safe beside a running server: every
 * change is a metadata transaction).
 */
export async function openRegistry(config: Config, opts: AppOptions = {}): Promise<Registry & { kms: KmsKeys; sealing: SealPool; close(): Promise<void> }> {
  // Unless the caller brings its own (the server's, on stdout), the log goes to stderr: the
  // commands that open the registry alone (berth lifecycle, vulndb) print their report, often
  // JSON for a script, on stdout.
  const log = opts.log ?? createLogger(config, { fd: 2 });
  const dataDir = resolve(config.dataDir);
  const clock = opts.clock ?? systemClock;
  const meta = await (opts.openMetadata ?? openMetadata)(config);
  const serverKey = loadServerKey({ dataDir, ...(config.serverKey !== undefined && { configured: config.serverKey }) });
  const ttlMs = config.authzCacheSeconds * 1000;
  const kms = new KmsKeys(meta.kmsKeys, serverKey, clock, { ttlMs });
  // Loaded only when used: the AWS SDK takes a noticeable part of a start.
  const remote =
    config.kmsProvider === 'aws'
      ? new RemoteKeys(
          meta.kmsKeys,
          (await import('../kms/remote-kms.js')).awsKms({
            region: config.kmsRegion ?? config.region,
            ...(config.kmsEndpoint !== undefined && { endpoint: config.kmsEndpoint }),
            // What a Berth KMS sharing the server key takes as ECR's own use (the managed key's only one).
            viaService: async (req) => (await import('../auth/via-service.js')).viaServiceProof('ecr', req, { now: clock.now(), key: serverKey }),
          }),
          clock,
          { ttlMs },
        )
      : undefined;
  // What downloads in flight may hold (blob bodies and manifests), whatever the number of clients.
  const budgets = { blobs: new DownloadBudget({ bytes: config.downloadBufferBytes }), manifests: new DownloadBudget({ bytes: config.manifestBufferBytes }) };
  // One set of byte threads hashes and seals uploads and opens downloads (design decision 6).
  const byteThreads = new ByteThreads();
  meta.offloadCheckpoints?.(checkpointsOn(byteThreads));
  logMissingAddons(log, { threadSends: config.threadSends, sendPipe: config.sendPipe, mappedReads: config.downloadReads === 'mapped' });
  logGcmInUse(log, config.gcmAvx2);
  const sealing = new SealPool(byteThreads, { avx2: config.gcmAvx2 });
  const hashing = new HashPool({
    shared: byteThreads,
    onWorkerLost: (e) => log.error({ err: e }, 'a hashing thread stopped; its uploads will be re-hashed at completion'),
  });
  const registry = createRegistry({
    authzChanges: new ChangeSignal(),
    hashing,
    vaults: await openBlobVaults(
      config,
      serverKey,
      kms,
      remote,
      opts.localBlobStore,
      undefined,
      new OpenPool(byteThreads, {
        stripe: config.stripedDownloads,
        mapped: config.downloadReads === 'mapped',
        avx2: config.gcmAvx2,
        budget: budgets.blobs,
        ...(config.threadSends && {
          threadSends: {
            stallMs: config.responseTimeoutSeconds * 1000,
            minBytes: config.responseMinBytesPerSecond * config.responseTimeoutSeconds,
            pipe: config.sendPipe,
            pipeBatch: config.sendPipeBatch,
          },
        }),
      }),
      sealing,
      log,
    ),
    meta,
    clock,
    log,
    budgets,
    limits: {
      createOnPush: config.createOnPush,
      deleteEnabled: config.deleteEnabled,
      autoMount: config.autoMount,
      maxUploadSessions: config.maxUploadSessions,
      maxManifestBytes: config.maxManifestBytes,
      maxBlobBytes: config.maxBlobBytes,
      maxPageSize: config.maxPageSize,
      redirectBlobGets: config.blobRedirect === 'presign',
      ...serviceLimits(config),
    },
  });
  return Object.assign(registry, {
    kms,
    sealing,
    async close() {
      await registry.pulls.stop();
      await hashing.close();
      await byteThreads.close();
      await meta.close();
    },
  });
}
