/**
 * Builds the blob store of every encryption key from the configuration (see blobstore/vaults.ts).
 *
 *   local disk   AES256  dataDir/blobs, sealed by Berth under the registry key
 *                KMS     dataDir/kms/<key id>/blobs, sealed by Berth under the customer key
 *   S3           AES256  <prefix>/blobs with SSE-S3 (x-amz-server-side-encryption: AES256)
 *                KMS     <prefix>/kms/<key id>/blobs: with kmsProvider 'berth' or 'aws', sealed by
 *                        Berth (and SSE-S3); with 's3', SSE-KMS under the key, done by the S3 service
 *
 * With kmsProvider 'aws' the wrapping key of a KMS key's store is a data key of that AWS KMS key
 * (kms/remote-keys.ts); otherwise it is the Berth key's own material.
 *
 * Only what S3 encrypts itself can be fetched with a presigned URL; Berth-sealed bytes are
 * streamed through Berth, which opens them. Key ids in paths are UUIDs Berth generated.
 *
 * The archive storage class has the same tree of stores at its own location (archiveStorage:
 * a directory, or an S3 bucket/prefix written with archiveS3StorageClass), sealed the same way:
 * archived bytes stay encrypted under their key.
 */
import { join, resolve } from 'node:path';
import type { BlobStore } from '../blobstore/blob-store.js';
import { withChecks, type BlobStoreObserver } from '../blobstore/checked-blob-store.js';
import { createEncryptedBlobStore } from '../blobstore/encrypted/encrypted-blob-store.js';
import type { OpenPool } from '../blobstore/encrypted/open-pool.js';
import type { SealPool } from '../blobstore/encrypted/seal-pool.js';
import { createFsBlobStore } from '../blobstore/fs/fs-blob-store.js';
import type { Logger } from 'pino';
import { SyncGate, type GateSwitch } from '../blobstore/fs/sync-gate.js';
import type { createS3BlobStore as S3StoreFactory } from '../blobstore/s3/s3-blob-store.js';
import { parseS3Location, type S3Location } from '../blobstore/s3/s3-location.js';
import { withKmsErrors } from '../blobstore/s3/sse-kms-errors.js';
import type { BlobVaults, SettleCheck } from '../blobstore/vaults.js';
import { Codes, RegistryError } from '../core/errors.js';
import type { RepositorySettings } from '../core/repository-settings.js';
import type { Config } from '../config/schema.js';
import type { KmsKeys } from '../kms/kms-keys.js';
import { registryWrappingKeys } from '../kms/registry-key.js';
import type { RemoteKeys } from '../kms/remote-keys.js';
import type { KmsKeyRecord } from '../metadata/types.js';
import { accountOf, regionOf, type RegistryKey } from '../core/registry-key.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Opens the store of a local blob directory: the file system driver, unless a test composes
 * another. `gate`: shared by the directories of one storage class, which sit on one disk.
 */
export type LocalBlobStore = (root: string, gate: SyncGate) => BlobStore;

const fsStore: LocalBlobStore = (root, gate) => createFsBlobStore({ root, gate });

/**
 * Every store is built checked (withChecks): drivers check no input themselves. `observe` is the
 * metrics hook point, for when metrics exist.
 */
export async function openBlobVaults(
  config: Config,
  serverKey: Buffer,
  kms: KmsKeys,
  remote?: RemoteKeys,
  openLocal: LocalBlobStore = fsStore,
  observe?: BlobStoreObserver,
  opening?: OpenPool,
  sealing?: SealPool,
  log?: Logger,
): Promise<BlobVaults> {
  const standard = await openTree(config, serverKey, kms, remote, openLocal, observe, false, opening, sealing, log);
  const archive = await openTree(config, serverKey, kms, remote, openLocal, observe, true, opening, sealing, log);
  return {
    settle: standard.settle,
    of: standard.of,
    archiveOf: archive.of,
    all: async () => [...(await standard.all()), ...(await archive.all())],
  };
}

/** The stores of one storage class: the standard location, or the archive's (see archiveStorage). */
async function openTree(
  config: Config,
  serverKey: Buffer,
  kms: KmsKeys,
  remote: RemoteKeys | undefined,
  openLocal: LocalBlobStore,
  observe: BlobStoreObserver | undefined,
  archive: boolean,
  opening: OpenPool | undefined,
  sealing?: SealPool,
  log?: Logger,
): Promise<BlobVaults> {
  const checked = (store: BlobStore) => withChecks(store, { ...(observe && { observe }) });
  // Whether downloads open their files on the event loop: decided per disk (blobOpen).
  const storage = archive ? 'archive' : 'standard';
  const gate = new SyncGate({
    mode: config.blobOpen,
    ...(log && {
      onSwitch: (to: 'async' | 'inline', detail: GateSwitch) =>
        to === 'async'
          ? log.warn({ storage, ...detail }, 'the local disk answers slowly: downloads open their files through the thread pool for a while (blobOpen auto)')
          : log.info({ storage }, 'the local disk answers fast again: downloads open their files on the event loop (blobOpen auto)'),
    }),
  });
  const local = (root: string) => checked(openLocal(root, gate));
  const registryKeys = registryWrappingKeys(serverKey);
  const s3 = config.storage === undefined ? undefined : archive ? archiveS3Location(config) : s3Location(config);
  if (config.kmsProvider === 's3' && !s3) throw new Error("kmsProvider: s3 needs storage (s3://...): on the local disk, KMS keys are Berth's");
  // The AWS SDK takes a noticeable part of a start to load: only a registry on S3 loads it.
  const { createS3BlobStore, createS3Client } = s3 ? await import('../blobstore/s3/s3-blob-store.js') : { createS3BlobStore: noS3, createS3Client: noS3 };
  const s3Store = (...args: Parameters<typeof S3StoreFactory>) => checked(createS3BlobStore(...args));
  const clients = s3 && { s3: createS3Client(s3), presigner: s3.presignEndpoint ? createS3Client(s3, s3.presignEndpoint) : createS3Client(s3) };
  const root = archive ? resolve(config.archiveStorage ?? join(config.dataDir, 'archive')) : resolve(config.dataDir);

  const base: BlobStore = s3
    ? s3Store({ ...s3, sse: { type: 'AES256' } }, clients)
    : checked(createEncryptedBlobStore(local(root), registryKeys, { name: 'fs (registry key)', ...(opening && { opening }), ...(sealing && { sealing }) }));
  const stores = new Map<string, BlobStore>();
  /** Keys are never deleted (only disabled, which their wrapping keys check), so a lookup holds. */
  const byRef = new Map<string, BlobStore>();

  function storeOf(key: KmsKeyRecord): BlobStore {
    let store = stores.get(key.id);
    if (store) return store;
    // Only ids Berth generated name a directory or key prefix.
    if (!UUID_RE.test(key.id)) throw new Error(`kms key id is not a UUID: ${JSON.stringify(key.id.slice(0, 100))}`);
    if (key.origin === 'EXTERNAL') {
      if (!s3) throw new Error(`kms key ${key.id} is held by an object store, but storage is the local disk`);
      const [type, keyId] = externalRef(key.arn);
      store = withKmsErrors(s3Store({ ...s3, prefix: keyPrefix(s3, key.id), sse: { type, ...(keyId !== '' && { keyId }) } }, clients));
    } else {
      // A key of an AWS KMS after a switch away from kmsProvider 'aws': its bytes can still be
      // deleted (the garbage collector needs no key), never read or written.
      const unusable = async (): Promise<never> => {
        throw new RegistryError(Codes.KmsException, `${key.arn} is a key of an AWS KMS, but kmsProvider is not 'aws'`);
      };
      const keys = key.origin !== 'AWS_KMS' ? kms.wrappingKeysFor(key) : (remote?.wrappingKeysFor(key) ?? { current: unusable, byId: unusable });
      const inner = s3 ? s3Store({ ...s3, prefix: keyPrefix(s3, key.id), sse: { type: 'AES256' } }, clients) : local(join(root, 'kms', key.id));
      store = checked(createEncryptedBlobStore(inner, keys, { name: `kms ${key.id}`, ...(opening && { opening }), ...(sealing && { sealing }) }));
    }
    stores.set(key.id, store);
    return store;
  }

  return {
    async settle(registryKey: RegistryKey, settings: RepositorySettings, check: SettleCheck = async () => {}): Promise<RepositorySettings> {
      if (settings.encryptionType === 'AES256') {
        await check(settings);
        return settings;
      }
      const [account, region] = [accountOf(registryKey), regionOf(registryKey)];
      if (config.kmsProvider === 's3') {
        // The object store's KMS checks the key when the first blob is written; Berth only
        // records it so that the garbage collector knows its store.
        await check(settings);
        await kms.recordExternal(account, region, externalRefOf(settings));
        return settings;
      }
      if (config.kmsProvider === 'aws')
        return { ...settings, kmsKey: await remote!.settle(account, region, settings.kmsKey, (arn) => check({ ...settings, kmsKey: arn })) };
      const key = settings.kmsKey === undefined ? await kms.ensureEcrManaged(account, region) : await kms.resolve(account, region, settings.kmsKey);
      if (key.state !== 'Enabled') throw new RegistryError(Codes.KmsException, `${key.arn} is disabled`);
      const settled = { ...settings, kmsKey: key.arn };
      await check(settled);
      return settled;
    },

    async of(settings: RepositorySettings): Promise<BlobStore> {
      // KMS repositories created before encryption existed named no key; their blobs are the registry key's.
      if (settings.encryptionType === 'AES256' || (settings.kmsKey === undefined && config.kmsProvider !== 's3')) return base;
      const ref = config.kmsProvider === 's3' ? externalRefOf(settings) : settings.kmsKey!;
      const known = byRef.get(ref);
      if (known) return known;
      const key = config.kmsProvider === 's3' ? await kms.findExternal(ref) : await kms.findByArn(ref);
      if (!key) throw new RegistryError(Codes.KmsException, `the repository's KMS key ${settings.kmsKey ?? ''} no longer exists`);
      const store = storeOf(key);
      byRef.set(ref, store);
      return store;
    },

    async all(): Promise<BlobStore[]> {
      return [base, ...(await kms.listAll()).map(storeOf)];
    },
  };
}

/** Stands for the S3 driver when storage is the local disk, where it is never called. */
function noS3(): never {
  throw new Error('no S3 storage is configured');
}

/** An object-store key as recorded: the SSE type, a space, the key as given ('' for the store's default). */
function externalRefOf(settings: RepositorySettings): string {
  return `${settings.encryptionType === 'KMS_DSSE' ? 'aws:kms:dsse' : 'aws:kms'} ${settings.kmsKey ?? ''}`;
}

function externalRef(ref: string): ['aws:kms' | 'aws:kms:dsse', string] {
  const i = ref.indexOf(' ');
  const type = ref.slice(0, i);
  if (type !== 'aws:kms' && type !== 'aws:kms:dsse') throw new Error(`unreadable external key reference ${JSON.stringify(ref.slice(0, 100))}`);
  return [type, ref.slice(i + 1)];
}

function keyPrefix(s3: S3Location, keyId: string): string {
  return `${s3.prefix === '' ? '' : `${s3.prefix}/`}kms/${keyId}`;
}

/** The archive's bucket and prefix: archiveStorage, or <prefix>/archive in the storage's bucket; with archiveS3StorageClass. */
function archiveS3Location(config: Config): S3Location {
  const standard = s3Location(config);
  const loc = config.archiveStorage === undefined ? standard : s3Location({ ...config, storage: config.archiveStorage });
  const prefix = config.archiveStorage === undefined ? (standard.prefix === '' ? 'archive' : `${standard.prefix}/archive`) : loc.prefix;
  return { ...loc, prefix, ...(config.archiveS3StorageClass !== undefined && { storageClass: config.archiveS3StorageClass }) };
}

function s3Location(config: Config): S3Location {
  const credentials =
    config.s3AccessKeyId !== undefined || config.s3SecretAccessKey !== undefined
      ? { accessKeyId: config.s3AccessKeyId, secretAccessKey: config.s3SecretAccessKey, sessionToken: config.s3SessionToken }
      : {};
  return parseS3Location(config.storage!, {
    ...credentials,
    ...(config.s3Endpoint !== undefined && { endpoint: config.s3Endpoint }),
    ...(config.s3Region !== undefined && { region: config.s3Region }),
    ...(config.s3ForcePathStyle !== undefined && { forcePathStyle: config.s3ForcePathStyle }),
    ...(config.s3PresignEndpoint !== undefined && { presignEndpoint: config.s3PresignEndpoint }),
    ...(config.s3PartSize !== undefined && { partSize: config.s3PartSize }),
    redirect: config.blobRedirect,
  });
}
