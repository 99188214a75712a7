/**
 * The metadata store: the source of truth for every fact about repositories, blobs, manifests,
 * tags and uploads, split by role. Each method is one atomic unit (one transaction in the
 * driver), so the rules that need atomicity — a manifest is visible only with all its
 * references, a tag moves only as the immutability rule allows — hold on every engine.
 * Timestamps are Date; drivers store epoch milliseconds.
 */
import type { DocumentStore } from './documents.js';
import type { ConsoleSessionStore, LoginProfileStore } from './console.js';
import type { AuditStore } from './audit-rows.js';
import type { Digest } from '../core/digest.js';
import type { LayerAccess, StorageClass } from './archive.js';
import type { RepositorySettings } from '../core/repository-settings.js';
import type { GcStore } from './gc.js';
import type { UsageStore } from './usage.js';
import type { IdentityStore } from './identities.js';
import type { CreationTemplateStore } from './creation-templates.js';
import type { RoleStore } from './roles.js';
import type { CustomerPolicyStore } from './customer-policies.js';
import type { GroupStore } from './groups.js';
import type { RegistryKey } from '../core/registry-key.js';
import type { EventResourceStore } from './event-resources.js';
import type { ReplicationStart, ReplicationStatusStore } from './replication.js';
import type { ReplicationBackfillStore } from './replication-backfills.js';
import type { PullExclusionStore } from './pull-exclusions.js';
import type { ManifestQuotaLimits, QuotaStore } from './quotas.js';
import type { ArchiveStore, ImageStatus, ImageStatusFilter } from './archive.js';

export interface Page {
  /** Exclusive lower bound (lexical), as in `last=` of the distribution API. */
  after?: string;
  limit: number;
}

export interface RepositoryRecord {
  id: number;
  registryKey: RegistryKey;
  name: string;
  createdAt: Date;
  settings: RepositorySettings;
  /** When the lifecycle policy was last evaluated (ECR's lastEvaluatedAt). */
  lifecycleEvaluatedAt?: Date;
}

export interface ResourceTag {
  Key: string;
  Value: string;
}

export interface RepositoryStore {
  find(registryKey: RegistryKey, name: string): Promise<RepositoryRecord | undefined>;
  /**
   * Finds or creates with default settings; creating throws QuotaRefusal (nothing created) when
   * the registry already holds `maxRepositories`, checked in the creating transaction.
   */
  ensure(registryKey: RegistryKey, name: string, now: Date, maxRepositories?: number): Promise<RepositoryRecord>;
  /**
   * Creates with the given settings, resource tags and policies (by kind, as PolicyStore keys
   * them), all in one transaction; undefined (nothing written) if the name is taken;
   * QuotaRefusal as ensure.
   */
  create(input: {
    registryKey: RegistryKey;
    name: string;
    settings: RepositorySettings;
    tags: ResourceTag[];
    /** `principalIds` as PolicyStore.put takes them. */
    policies?: Array<{ kind: string; document: string; principalIds?: Record<string, string> }>;
    now: Date;
    maxRepositories?: number;
  }): Promise<RepositoryRecord | undefined>;
  updateSettings(id: number, settings: RepositorySettings): Promise<void>;
  /** Names in lexical order. */
  list(registryKey: RegistryKey, page: Page): Promise<string[]>;
  /** Records in name order. */
  listRecords(registryKey: RegistryKey, page: Page): Promise<RepositoryRecord[]>;
  /**
   * Removes the repository and everything in it (manifests, tags, links, uploads, policies).
   * Without `force` a repository holding images is kept and 'notEmpty' returned. Every blob it
   * linked or referenced is queued for garbage-collection review at `now`.
   */
  delete(id: number, opts: { force: boolean; now: Date }): Promise<'deleted' | 'notEmpty' | 'missing'>;
  resourceTags(id: number): Promise<ResourceTag[]>;
  /** Adds or overwrites tags; refuses (returns false) if the result would exceed `max` tags. */
  putResourceTags(id: number, tags: ResourceTag[], max: number): Promise<boolean>;
  removeResourceTags(id: number, keys: string[]): Promise<void>;
  setLifecycleEvaluatedAt(id: number, at: Date): Promise<void>;
}

export interface BlobRecord {
  digest: Digest;
  size: number;
  createdAt: Date;
}

/** A blob as a client's HEAD or GET needs it (BlobIndex.stat). */
export interface BlobStat extends BlobRecord {
  /** Whether the repository's clients may read it: ArchiveStore.layerAccess's rule. */
  layerAccess: LayerAccess;
  /** The class whose store holds its bytes: ArchiveStore.storageClass. */
  storageClass: StorageClass;
}

export interface BlobIndex {
  /** A blob stored anywhere in the registry (for mounts and deduplication). */
  find(digest: Digest): Promise<BlobRecord | undefined>;
  /** A blob linked into the repository: what the repository's clients may read. */
  findInRepository(repositoryId: number, digest: Digest): Promise<BlobRecord | undefined>;
  /**
   * Up to `limit` of the registry's repositories that link the blob, by name: where an automatic
   * mount may take it from, once the caller is found allowed to read one of them.
   */
  repositoriesWith(registryKey: RegistryKey, digest: Digest, limit: number): Promise<string[]>;
  /**
   * findInRepository for a client's HEAD or GET, with the layer's access and storage class read in
   * the same statement (one round trip on PostgreSQL: a GET needed three): a blob queued for
   * garbage-collection review is revived (its grace period restarts at `now`), since a client that
   * saw it may reference it next.
   */
  stat(repositoryId: number, digest: Digest, now: Date): Promise<BlobStat | undefined>;
  /**
   * Before the bytes of upload `uploadId` are committed under `digest`: cancels a pending
   * deletion of that digest and records that the commit is under way, so no deletion can start
   * until record() or releaseCommit(). 'busy' while a deletion claimed after `staleBefore` runs.
   */
  beginCommit(uploadId: string, digest: Digest, now: Date, staleBefore: Date): Promise<'ok' | 'busy'>;
  /** Ends a commit that will not be recorded; its bytes are queued for deletion if no blob row exists. */
  releaseCommit(uploadId: string, now: Date): Promise<void>;
  /**
   * Records a verified, durable blob (if new), links it into the repository, queues it for review
   * (an upload nobody references is reclaimed) and ends the upload's commit.
   */
  record(repositoryId: number, blob: { digest: Digest; size: number }, now: Date, uploadId?: string): Promise<void>;
  /** Links an already-recorded blob into a repository and queues it for review (reviving it); undefined if unknown. */
  link(repositoryId: number, digest: Digest, now: Date): Promise<BlobRecord | undefined>;
  /** Removes the link and queues the blob for review; the bytes stay until GC finds them unreferenced. */
  unlink(repositoryId: number, digest: Digest, now: Date): Promise<boolean>;
}

export interface ManifestRecord {
  repositoryId: number;
  digest: Digest;
  mediaType: string;
  size: number;
  payload: Buffer;
  artifactType?: string;
  subject?: Digest;
  annotations?: Record<string, string>;
  pushedAt: Date;
  /** ECR's imageStatus: only an ACTIVE image may be pulled. */
  imageStatus: ImageStatus;
  archivedAt?: Date;
  activatedAt?: Date;
}

export interface PutManifestInput {
  registryKey: RegistryKey;
  repository: string;
  /** Create the repository in the same transaction if it does not exist (create-on-push). */
  createRepository: boolean;
  digest: Digest;
  mediaType: string;
  payload: Buffer;
  artifactType?: string;
  subject?: Digest;
  annotations?: Record<string, string>;
  /** Blobs that must be linked into the repository. */
  blobs: Digest[];
  /** Manifests that must exist in the repository (unless absentManifestsAllowed). */
  manifests: Digest[];
  /**
   * The size each descriptor declares for a blob or manifest of `blobs` and `manifests`: one
   * present under another size refuses the put (`wrongSize`), since a client trusting the
   * descriptor would read a truncated or overlong blob. A digest's size never changes, so the
   * check needs no lock beyond the existence check's.
   */
  declaredSizes?: ReadonlyMap<Digest, number>;
  /**
   * The pull-through cache's one exception: an index pulled from upstream is stored while the
   * child manifests nobody pulled yet are absent (their references are kept). Never for a push.
   */
  absentManifestsAllowed?: boolean;
  /** Tags to point at the manifest, all in the same transaction. */
  tags?: TagWrite[];
  /** A scan to start (IN_PROGRESS and its job) in the same transaction, if the manifest is new. */
  scan?: JobRequest;
  /** Events reporting the push, written to the outbox in the same transaction when it succeeds. */
  events?: OutboxEvent[];
  /** More jobs the push calls for (managed signing's), enqueued in the same transaction when it succeeds, new manifest or not. */
  jobs?: JobRequest[];
  /** Destinations to replicate the push to: IN_PROGRESS rows and their jobs, in the same transaction. */
  replications?: ReplicationStart[];
  /** Count quotas checked in the put's transaction; one exceeded throws QuotaRefusal and nothing is written. */
  limits?: ManifestQuotaLimits;
  now: Date;
}

export interface TagWrite {
  name: string;
  /** When false, an existing tag may not move to another digest. */
  mutable: boolean;
}

export type PutManifestResult =
  | { kind: 'ok'; repositoryId: number }
  | { kind: 'repositoryUnknown' }
  | { kind: 'missing'; blobs: Digest[]; manifests: Digest[] }
  | { kind: 'wrongSize'; digest: Digest; declared: number; actual: number }
  | { kind: 'tagImmutable'; tag: string; current: Digest };

/**
 * What became of a lifecycle expiry: `changed` when the image's tags are no longer the ones the
 * policy was evaluated on (a push or an untag since), `referenced` when an index now lists the
 * image or one of its referrers; in both cases nothing was deleted.
 */
export type ImageExpiryResult =
  | { kind: 'expired'; referrers: Digest[] }
  | { kind: 'missing' }
  | { kind: 'changed'; tags: string[] }
  | { kind: 'referenced'; parents: Digest[] };

export type DeleteManifestResult =
  | { kind: 'deleted' }
  | { kind: 'missing' }
  /** Listed by these indexes in the repository: kept, so that no index points at nothing. */
  | { kind: 'referenced'; parents: Digest[] };

/** One image of a batch delete, as the caller named it: by tag, by digest, or both (already well-formed). */
export interface ImageDeleteRequest {
  tag?: string;
  digest?: Digest;
}

/**
 * What became of one image of a batch delete. `notFound` and `tagDigestMismatch` are decided
 * when the names are resolved, before anything is deleted; `gone` (deleted earlier in the same
 * batch) and `referenced` when its turn to be deleted comes.
 */
export type ImageDeleteResult =
  | { kind: 'deleted'; digest: Digest }
  | { kind: 'notFound' }
  | { kind: 'tagDigestMismatch' }
  | { kind: 'gone' }
  | { kind: 'referenced'; parents: Digest[] };

export interface ReferrerRecord {
  digest: Digest;
  mediaType: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** A manifest named by tag or by digest. */
export type ManifestReference = { tag: string } | { digest: Digest };

export interface ManifestStore {
  find(repositoryId: number, digest: Digest): Promise<ManifestRecord | undefined>;
  findByTag(repositoryId: number, tag: string): Promise<ManifestRecord | undefined>;
  /**
   * What a manifest GET reads, in one statement (one round trip on PostgreSQL): the repository
   * `name` and, in it, the manifest `reference` names. Undefined when there is no such
   * repository; `manifest` absent when it has no such manifest.
   */
  lookup(
    registryKey: RegistryKey,
    name: string,
    reference: ManifestReference,
  ): Promise<{ repository: RepositoryRecord; manifest?: ManifestRecord } | undefined>;
  /** Stores the manifest with its references (and tag) atomically, or changes nothing. */
  put(input: PutManifestInput): Promise<PutManifestResult>;
  /**
   * Deletes the manifest and every tag pointing to it, unless an index in the repository lists
   * it; the check and the delete are one transaction, so an index pushed concurrently either
   * sees the manifest gone (and is refused) or makes the delete refuse. The blobs it referenced
   * are queued for review at `now`.
   */
  delete(repositoryId: number, digest: Digest, now: Date, events?: RemovalEvents): Promise<DeleteManifestResult>;
  /**
   * ECR's BatchDeleteImage in one transaction: resolves every name first, then deletes in the
   * given order. A tag alone removes the tag, or the image with it when it is the image's last
   * tag; a digest (with or without a tag) deletes the image and all its tags, as `delete` does
   * (an image an index lists is kept and reported). Results are in request order.
   */
  deleteImages(repositoryId: number, images: ImageDeleteRequest[], now: Date, events?: RemovalEvents): Promise<ImageDeleteResult[]>;
  /**
   * A lifecycle expiry: deletes the image and its referrers (transitively), all or nothing, in
   * one transaction, and only while the image is still what the policy was evaluated on: its
   * tags exactly `plannedTags`, and no index in the repository listing it or a referrer of it.
   */
  expireImage(repositoryId: number, digest: Digest, plannedTags: readonly string[], now: Date, events?: RemovalEvents): Promise<ImageExpiryResult>;
  /** Manifests whose subject is `subject`, optionally of one artifact type, by digest. */
  referrers(repositoryId: number, subject: Digest, artifactType?: string): Promise<ReferrerRecord[]>;
  /** Records pulls (a pull time only ever moves forward); images gone since are skipped. */
  recordPulls(pulls: Array<{ repositoryId: number; digest: Digest; at: Date }>): Promise<void>;
}

export interface TagStore {
  /** Names in lexical order. */
  list(repositoryId: number, page: Page): Promise<string[]>;
  /** Removes the tag (the image stays); `events` report it, in the same transaction. */
  delete(repositoryId: number, tag: string, report?: { events: RemovalEvents; now: Date }): Promise<boolean>;
}

export interface UploadRecord {
  id: string;
  repositoryId: number;
  /** Bytes received and staged so far. */
  size: number;
  createdAt: Date;
  updatedAt: Date;
}

/** The open-session caps a new upload session is checked against, in its transaction. */
export interface UploadLimits {
  /** Sessions open in the session's account (every repository and region of it). */
  perAccount: number;
  /** Sessions open in the whole deployment: the ceiling that protects the machine. */
  total: number;
}

/** What `UploadStore.create` did: made the session, or which cap refused it. */
export type UploadCreation = 'created' | 'account' | 'total';

export interface UploadStore {
  /** Creates the session unless a cap of `limits` is reached; says which cap refused it. */
  create(upload: { id: string; repositoryId: number; accountId: string; now: Date }, limits: UploadLimits): Promise<UploadCreation>;
  find(id: string): Promise<UploadRecord | undefined>;
  /** Records progress; false if the session is gone (cancelled or finished elsewhere). */
  setSize(id: string, size: number, now: Date): Promise<boolean>;
  delete(id: string): Promise<boolean>;
}

export interface ImageIdSummary {
  digest: Digest;
  /** In byte order. */
  tags: string[];
}

export interface ImageSummary {
  digest: Digest;
  mediaType: string;
  /** Bytes of the manifest itself. */
  manifestSize: number;
  /** Bytes of the blobs the manifest references directly (config and layers). */
  blobBytes: number;
  /** Child manifests, for an index. */
  children: Digest[];
  pushedAt: Date;
  lastPulledAt?: Date;
  tags: string[];
  artifactType?: string;
  subject?: Digest;
  imageStatus: ImageStatus;
  archivedAt?: Date;
  activatedAt?: Date;
}

/** What lifecycle evaluation needs of every image in a repository. */
export interface LifecycleCandidate {
  digest: Digest;
  tags: string[];
  pushedAt: Date;
  lastPulledAt?: Date;
  /** The image this one refers to (signatures, SBOMs), when that image is in the repository. */
  subject?: Digest;
  /** Listed by an index in the repository: it goes only with its index. */
  inIndex: boolean;
  imageStatus: ImageStatus;
  archivedAt?: Date;
  activatedAt?: Date;
}

export type TagStatus = 'TAGGED' | 'UNTAGGED' | 'ANY';

/** Read-side queries over a repository's images (manifests with their tags), for the ECR API. */
export interface ImageQueries {
  /** Images in digest order after `page.after`, of one status (ECR's default: ACTIVE) or any. */
  list(repositoryId: number, page: Page, tagStatus: TagStatus, imageStatus?: ImageStatusFilter): Promise<ImageSummary[]>;
  /** The same page as `list`, digests and tags only (ListImages): no sizes or children to add up. */
  listIds(repositoryId: number, page: Page, tagStatus: TagStatus, imageStatus?: ImageStatusFilter): Promise<ImageIdSummary[]>;
  /** The named images that exist, in no particular order. */
  get(repositoryId: number, digests: Digest[]): Promise<ImageSummary[]>;
  /** Every image in the repository, in one read. */
  lifecycleCandidates(repositoryId: number): Promise<LifecycleCandidate[]>;
}

/** Policy documents by scope (`repository:<registry>/<name>` or `registry:<registry>`) and kind. */
export interface PolicyStore {
  /** `principalIds` only when the document was put with them. */
  get(scope: string, kind: string): Promise<{ document: string; updatedAt: Date; principalIds?: Record<string, string> } | undefined>;
  /** `principalIds`: each user or role ARN the document names with that entity's unique id then (auth/trust-principals.ts); replaced with the document. */
  put(scope: string, kind: string, document: string, now: Date, principalIds?: Record<string, string>): Promise<void>;
  delete(scope: string, kind: string): Promise<boolean>;
  /** Every scope holding a policy of `kind`. */
  scopes(kind: string): Promise<string[]>;
}

export interface LifecyclePreviewRecord {
  policyText: string;
  status: 'IN_PROGRESS' | 'COMPLETE' | 'FAILED';
  startedAt: Date;
  /** JSON, set when complete. */
  results?: string;
}

/** The one lifecycle preview a repository keeps. */
export interface LifecyclePreviewStore {
  /** Starts a preview unless one is in progress and started after `staleBefore`; false then. */
  start(repositoryId: number, policyText: string, now: Date, staleBefore: Date): Promise<boolean>;
  finish(repositoryId: number, status: 'COMPLETE' | 'FAILED', results: string | undefined): Promise<void>;
  get(repositoryId: number): Promise<LifecyclePreviewRecord | undefined>;
}

/** Named JSON settings of a registry (scanning, replication and signing configuration, the registry policy's scope). */
export interface RegistrySettingsStore {
  get(registryKey: RegistryKey, name: string): Promise<string | undefined>;
  /** Every setting of the registry by name, in one read: a manifest push needs several. */
  all(registryKey: RegistryKey): Promise<Map<string, string>>;
  put(registryKey: RegistryKey, name: string, value: string): Promise<void>;
  /** Removes one and answers the value it held; undefined when there was none. */
  delete(registryKey: RegistryKey, name: string): Promise<string | undefined>;
}

/** Named leases: periodic work runs on one node at a time, the holder of an unexpired lease. */
export interface LeaseStore {
  /** Takes or renews the lease for `ttlMs`; false while another holder's lease is unexpired. */
  acquire(name: string, holder: string, ttlMs: number, now: Date): Promise<boolean>;
  release(name: string, holder: string): Promise<void>;
}

export interface JobRequest {
  kind: string;
  /**
   * The account whose work this is: claims take turns between accounts (see JobStore.claim).
   * Absent for the deployment's own work (advisory re-evaluation), which takes its turn as ''.
   */
  account?: string;
  /** JSON-serializable. */
  payload: unknown;
  runAfter?: Date;
}

export interface JobRecord {
  id: number;
  kind: string;
  /** The job's account ('' for the deployment's own work). */
  account: string;
  payload: unknown;
  /** Including the current one. */
  attempts: number;
  lastError?: string;
}

/** A claimer's share per account: at most `perAccount` of one account's jobs held at once. */
export interface AccountShare {
  perAccount: number;
  /** The jobs the claimer holds now, by account. */
  held: ReadonlyMap<string, number>;
}

/** The durable job queue (outbox): work a change calls for, done later by a worker with retries. */
export interface JobStore {
  enqueue(jobs: JobRequest[], now: Date): Promise<void>;
  /**
   * Locks up to `limit` due jobs of the given kinds for `leaseMs`; a lapsed lock is claimable
   * again. Earlier kinds first; within a kind, accounts take turns: each account with due jobs
   * gets its oldest one, the account whose last claim of the kind is oldest (or that was never
   * claimed) first, then each gets its second, and so on; within an account, oldest due first.
   * So one account's backlog delays another account's job by a claim or two, not by the backlog.
   * With `share`, no account gets more than its room (`perAccount` less what it `held`s).
   * The batch is full whenever that many jobs are claimable, and a claim reads O(limit +
   * accounts) rows however deep the accounts' queues (TurnFill, job-turns.ts).
   */
  claim(kinds: string[], holder: string, leaseMs: number, limit: number, now: Date, share?: AccountShare): Promise<JobRecord[]>;
  /**
   * The holder's heartbeat: moves the job's lock to `now + leaseMs`, in one conditional UPDATE,
   * only while this claim (the holder and the claim's `attempts`, which every claim counts up)
   * still holds it. True when renewed; false when the job is finished (removed), handed back,
   * or claimed again by anyone since, the holder itself included: the run has lost its job. A
   * lock that lapsed but that nobody claimed since is still this run's and is renewed.
   */
  renew(id: number, holder: string, attempts: number, leaseMs: number, now: Date): Promise<boolean>;
  /** Removes a job the holder finished. */
  complete(id: number, holder: string): Promise<void>;
  /** Unlocks a failed job to run again at `retryAt`, or removes it when undefined. */
  fail(id: number, holder: string, error: string, retryAt: Date | undefined): Promise<void>;
  /** Jobs of a kind not yet done (for tests and status). */
  pending(kind: string): Promise<number>;
}

export type ScanStatus = 'IN_PROGRESS' | 'COMPLETE' | 'FAILED' | 'UNSUPPORTED_IMAGE';

export interface ImageScanRecord {
  status: ScanStatus;
  description: string;
  startedAt: Date;
  completedAt?: Date;
  sourceUpdatedAt?: Date;
  /** JSON of the findings, when complete. */
  findings?: string;
  /** A hash of what the findings are, to skip rewriting unchanged ones. */
  fingerprint?: string;
}

/** Scans of images, their package inventories, and the advisories they are matched against. */
export interface ScanStore {
  get(repositoryId: number, digest: Digest): Promise<ImageScanRecord | undefined>;
  /**
   * Many at once (DescribeImages); missing ones are absent from the map. `consecutive`: the
   * digests are a listing slice's, next to each other in the repository's digest order (a tag
   * filter may skip some between them): SQLite then reads their range, whose cost grows with the
   * images it spans; otherwise it looks each up.
   */
  getMany(repositoryId: number, digests: Digest[], consecutive?: boolean): Promise<Map<string, ImageScanRecord>>;
  /**
   * Marks a scan IN_PROGRESS and enqueues its job in one transaction, unless the image is gone or
   * (when `quotaSince` is given) a scan started after it: 'started' | 'quota' | 'missing'.
   */
  start(repositoryId: number, digest: Digest, job: JobRequest, now: Date, quotaSince?: Date): Promise<'started' | 'quota' | 'missing'>;
  /** Records a scan's end, with the events reporting it in the same transaction. */
  finish(repositoryId: number, digest: Digest, result: Omit<ImageScanRecord, 'startedAt'>, events?: OutboxEvent[]): Promise<void>;
  /** Many finishes in one transaction (re-evaluation writes thousands). */
  finishMany(results: Array<{ repositoryId: number; digest: Digest; result: Omit<ImageScanRecord, 'startedAt'> }>): Promise<void>;
  /** Every completed scan (for re-evaluation after an advisory import), in pages by rowid. */
  completed(
    afterKey: string,
    limit: number,
  ): Promise<Array<{ key: string; repositoryId: number; registryKey: RegistryKey; repository: string; digest: Digest; fingerprint?: string }>>;
  inventory(digest: Digest): Promise<string | undefined>;
  putInventory(digest: Digest, inventory: string, now: Date): Promise<void>;
  /** Stores advisories newer than what is stored; returns how many changed. */
  putAdvisories(source: string, advisories: Array<{ id: string; modified: Date; document: string }>, now: Date): Promise<number>;
  advisories(afterId: string, limit: number): Promise<Array<{ id: string; document: string }>>;
  sources(): Promise<Array<{ name: string; advisories: number; importedAt: Date; updatedAt: Date }>>;
}

export type KmsKeyState = 'Enabled' | 'Disabled';
/**
 * 'BERTH': material kept by Berth (sealed under the server key); 'EXTERNAL': a key of the object
 * store's KMS; 'AWS_KMS': a key of an AWS KMS endpoint, whose row keeps a data key that only
 * that KMS can decrypt.
 */
export type KmsKeyOrigin = 'BERTH' | 'EXTERNAL' | 'AWS_KMS';

export interface KmsKeyRecord {
  /** A UUID, as KMS key ids are. */
  id: string;
  accountId: string;
  region: string;
  /** `arn:aws:kms:<region>:<account>:key/<id>`; for EXTERNAL keys the reference as the user gave it. */
  arn: string;
  /** `alias/<name>`, unique in its account and region. */
  alias?: string;
  description: string;
  state: KmsKeyState;
  origin: KmsKeyOrigin;
  /** The key material sealed under the server key (BERTH keys only). */
  sealedMaterial?: string;
  createdAt: Date;
}

export type SetKmsAliasResult = 'set' | 'aliasTaken' | 'hasAlias' | 'notFound';

export type CreateKmsKeyResult = { kind: 'created'; key: KmsKeyRecord } | { kind: 'aliasTaken'; existing: KmsKeyRecord };

/** KMS keys of KMS-encrypted repositories: Berth's own, and the object store's that are in use. */
export interface KmsKeyStore {
  /** Stores a new key; when its alias is taken in the account and region, nothing is stored and the holder returned. */
  create(key: Omit<KmsKeyRecord, 'createdAt'> & { now: Date }): Promise<CreateKmsKeyResult>;
  get(id: string): Promise<KmsKeyRecord | undefined>;
  findByArn(arn: string): Promise<KmsKeyRecord | undefined>;
  findByAlias(accountId: string, region: string, alias: string): Promise<KmsKeyRecord | undefined>;
  /** BERTH keys of one account and region, or of every account without a scope; oldest first. */
  list(scope?: { accountId: string; region: string }): Promise<KmsKeyRecord[]>;
  /** False when there is no such key. */
  setState(id: string, state: KmsKeyState): Promise<boolean>;
  /**
   * Gives key `id` the alias `alias`, if it has none and no key of its account and region holds
   * that alias; race-free (two nodes giving one alias to two keys: one gets 'aliasTaken').
   */
  setAlias(id: string, alias: string): Promise<SetKmsAliasResult>;
  /** Takes the alias off the key of (accountId, region) holding it; false when none does. */
  deleteAlias(accountId: string, region: string, alias: string): Promise<boolean>;
  /**
   * The row whose arn is `keyRef`, created as an EXTERNAL key of this account and region if
   * there is none. Idempotent and race-free; an existing row is returned whoever recorded it
   * (the object store's KMS is one for the whole deployment), so check its origin.
   */
  recordExternal(accountId: string, region: string, keyRef: string, now: Date): Promise<KmsKeyRecord>;
  /** Every key of every origin and account (the garbage collector visits each key's blob store); oldest first. */
  listAll(): Promise<KmsKeyRecord[]>;
}

/** An event, as the outbox keeps it until it is fanned out to its targets (shapes: registry/events.ts). */
export interface OutboxEvent {
  /** A UUID: receivers de-duplicate on it. */
  id: string;
  registryKey: RegistryKey;
  detailType: string;
  /** The event JSON, exactly as delivered. */
  body: string;
}

export interface OutboxRecord extends OutboxEvent {
  seq: number;
  createdAt: Date;
}

/** An image a delete removed (or untagged), as the events reporting it need it. */
export interface RemovedImage {
  digest: Digest;
  /** The tag the delete named, if it named one. */
  tag?: string;
  /** The tags the image had when it was removed. */
  tags: string[];
  mediaType: string;
  artifactType?: string;
  subject?: Digest;
  /** Only the tag went; the image stays. */
  untagged: boolean;
}

/** Builds, inside a delete's transaction, the events reporting one removal (none: nothing written). */
export type RemovalEvents = (removed: RemovedImage) => OutboxEvent[];

/** The event outbox: written by the changes' own transactions, drained by the deliverer. */
export interface EventOutboxStore {
  /**
   * Locks up to `limit` rows for `leaseMs`, in turns between accounts (job-turns.ts: each account
   * with events its oldest, the account served longest ago first, round after round), oldest
   * first within an account; a lapsed lock is claimable again. Full whenever that many rows are
   * claimable, reading O(limit + accounts) rows however deep the accounts' backlogs (TurnFill).
   */
  claim(holder: string, leaseMs: number, limit: number, now: Date): Promise<OutboxRecord[]>;
  /** Replaces claimed rows by their deliveries (jobs), in one transaction. */
  dispatch(seqs: number[], holder: string, deliveries: JobRequest[], now: Date): Promise<void>;
  /** Rows not yet dispatched (for tests and status). */
  pending(): Promise<number>;
}

export type { EventResourceKind, EventResourceRecord, EventResourceStore, EventTargetRecord } from './event-resources.js';

export interface MetadataStore {
  readonly repositories: RepositoryStore;
  readonly blobs: BlobIndex;
  readonly manifests: ManifestStore;
  readonly tags: TagStore;
  readonly uploads: UploadStore;
  readonly images: ImageQueries;
  readonly identities: IdentityStore;
  readonly roles: RoleStore;
  readonly customerPolicies: CustomerPolicyStore;
  readonly groups: GroupStore;
  readonly policies: PolicyStore;
  readonly registrySettings: RegistrySettingsStore;
  readonly leases: LeaseStore;
  readonly gc: GcStore;
  readonly lifecyclePreviews: LifecyclePreviewStore;
  readonly jobs: JobStore;
  readonly scans: ScanStore;
  readonly kmsKeys: KmsKeyStore;
  readonly eventOutbox: EventOutboxStore;
  readonly eventResources: EventResourceStore;
  readonly usage: UsageStore;
  readonly audit: AuditStore;
  readonly creationTemplates: CreationTemplateStore;
  readonly replication: ReplicationStatusStore;
  readonly replicationBackfills: ReplicationBackfillStore;
  readonly pullExclusions: PullExclusionStore;
  readonly documents: DocumentStore;
  readonly quotas: QuotaStore;
  readonly loginProfiles: LoginProfileStore;
  readonly consoleSessions: ConsoleSessionStore;
  readonly archive: ArchiveStore;
  /**
   * Engines that checkpoint a log on the thread that commits (SQLite) run those checkpoints
   * through `runner` instead, off the event loop; `runner` checkpoints the database file at `path`
   * and tells how many frames its log held.
   */
  offloadCheckpoints?(runner: (path: string) => Promise<{ log: number }>): void;
  close(): Promise<void>;
}
