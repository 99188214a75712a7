/**
 * Manifest use cases: push (validate, check references, store with its tag atomically), get by
 * tag or digest, delete, and the referrers of a subject. Both front doors (/v2 and the ECR API)
 * push and delete through here, so every rule about manifests lives in this one place.
 */
import { checkPullable, restoreOnPush } from './storage-classes.js';
import { digestOf, type Digest, type DigestAlgorithm, digestAlgorithm } from '../core/digest.js';
import { Codes, RegistryError } from '../core/errors.js';
import { parseRepositoryName, type Reference, type Tag } from '../core/names.js';
import { isContainerImage, isIndexMediaType } from '../core/media-types.js';
import { isTagImmutable } from '../core/repository-settings.js';
import type { ManifestRecord, ReferrerRecord, RemovalEvents } from '../metadata/types.js';
import { deleteEvents, pullThroughEvents, pushEvents, replicationEvents, type PullThroughOrigin } from './events.js';
import type { PushRules } from './registry-config.js';
import { replicationStarts } from './replication.js';
import type { RegistryContext, RepoScope } from './context.js';
import { createRepositoryFor } from './creation-templates.js';
import { parseManifest } from './manifest-parse.js';
import type { PullRecorder } from './pull-recorder.js';
import { scanJob } from './scans.js';
import { repositoryNotFound, requireRepository, rethrowQuota } from './repositories.js';
import { quotaExceeded, type Quotas } from './quotas.js';
import type { MaySign, SignJobPayload, Signing } from './signing.js';

export interface PushedManifest {
  digest: Digest;
  subject?: Digest;
  /** Every tag now pointing at the manifest: the reference's, or the extra tags of a push by digest. */
  tags: Tag[];
}

/** A read that is a pull, and who pulls. */
export interface PullOptions {
  pull?: boolean;
  /** The puller's IAM user or role ARN (pull-time update exclusions match it). */
  pulledBy?: string;
}

export class Manifests {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly pulls: PullRecorder,
    private readonly quotas: Quotas,
    /** What the registry's scanning, replication and signing rules call for on a push to the repository (one read). */
    private readonly pushRules: (scope: RepoScope) => Promise<PushRules>,
    /** Managed signing: the job a push's signing profiles call for. */
    private readonly signing: Signing,
  ) {}

  /**
   * `extraTags` (OCI's `?tag=` on a push by digest) are written with the manifest, in the same
   * transaction and under the same immutability rule as a tag reference; all or nothing.
   * `typeDeclared`: the caller names the type explicitly (PutImage's imageManifestMediaType), see parseManifest.
   * `pushedBy` (the caller's principal ARN) is only logged: the log says who pushed what.
   * `createRepository`: whether a missing repository is created (default: create-on-push, /v2's
   * rule); the JSON API's PutImage passes false, as ECR answers RepositoryNotFound.
   * `replicatedFrom`: the push is a peer region's replication: it is reported as "ECR Replication
   * Action" and replicated no further (ECR's replication does not chain).
   * `pullThrough`: the pull-through cache imports the image from its upstream into a repository
   * it created: reported as "ECR Pull Through Cache Action", and an index is stored even while
   * child manifests nobody pulled yet are absent (the one exception to the children rule; an
   * ordinary push of such an index is refused).
   * `maySign`: whether the pusher may sign with a profile (signer:SignPayload), as managed
   * signing signs with the pusher's identity; unset, the registry's rules alone decide.
   */
  async push(
    scope: RepoScope,
    reference: Reference,
    payload: Buffer,
    contentType: string | undefined,
    opts: {
      extraTags?: Tag[];
      typeDeclared?: boolean;
      pushedBy?: string;
      createRepository?: boolean;
      replicatedFrom?: { accountId: string; region: string };
      pullThrough?: PullThroughOrigin;
      maySign?: MaySign;
    } = {},
  ): Promise<PushedManifest> {
    const extraTags = opts.extraTags ?? [];
    if (extraTags.length > 0 && reference.kind === 'tag') {
      throw new RegistryError(Codes.TagInvalid, 'tag parameters are accepted only on a push by digest', { reference: reference.tag });
    }
    const tags = reference.kind === 'tag' ? [reference.tag] : [...new Set(extraTags)];
    const quotas = await this.quotas.values(scope.registryKey);
    if (payload.length > quotas.maxManifestBytes) throw quotaExceeded('maxManifestBytes', quotas.maxManifestBytes);
    const alg: DigestAlgorithm = reference.kind === 'digest' ? digestAlgorithm(reference.digest) : 'sha256';
    const digest = digestOf(payload, alg);
    if (reference.kind === 'digest' && reference.digest !== digest) {
      throw new RegistryError(Codes.DigestInvalid, 'manifest digest does not match the reference', {
        reference: reference.digest,
        digest,
      });
    }
    const parsed = parseManifest(payload, contentType, { ...(opts.typeDeclared !== undefined && { typeDeclared: opts.typeDeclared }) });
    // The settings are read outside the put's transaction: a concurrent change of mutability
    // applies from the next push on, as it would on ECR.
    const createRepository = opts.createRepository ?? this.ctx.limits.createOnPush;
    // A manifest whose repository does not exist can only be stored if it references nothing
    // (an empty index): nothing is linked into a repository yet to be created. Only then is the
    // repository created here, with its CREATE_ON_PUSH template, before the push's rules read
    // it. Any other such push is refused by the put, whose own creation rolls back with it, so
    // a refused push creates nothing.
    const referencesNothing = parsed.blobs.length === 0 && parsed.manifests.length === 0;
    const existing =
      (await this.ctx.meta.repositories.find(scope.registryKey, scope.name)) ??
      (createRepository && referencesNothing ? await createRepositoryFor(this.ctx, this.quotas, scope, 'CREATE_ON_PUSH') : undefined);
    const tagWrites = tags.map((name) => ({ name, mutable: !existing || !isTagImmutable(existing.settings, name) }));
    // Indexes and artifacts have no file system to scan.
    const scannable = isContainerImage(parsed.mediaType, parsed.artifactType);
    const rules = await this.pushRules(scope);
    const scan = scannable && rules.scans(existing?.settings.scanOnPush ?? false) ? scanJob(scope, digest) : undefined;
    const now = this.ctx.clock.now();
    const pushed = {
      digest,
      mediaType: parsed.mediaType,
      tags,
      ...(parsed.artifactType !== undefined && { artifactType: parsed.artifactType }),
      ...(parsed.subject && { subject: parsed.subject.digest }),
    };
    const events = opts.replicatedFrom
      ? replicationEvents(scope, pushed, opts.replicatedFrom, now)
      : opts.pullThrough
        ? pullThroughEvents(scope, pushed, opts.pullThrough, now)
        : pushEvents(scope, pushed, now);
    const replications = opts.replicatedFrom ? [] : replicationStarts(scope, digest, tags, rules.replicateTo);
    // A client's push of an image is signed; a referrer (a signature among them) is not, nor a
    // replica (the source's signature is replicated as a push of its own) or a pull-through import.
    const signed = !parsed.subject && !opts.replicatedFrom && !opts.pullThrough;
    const sign = signed ? await this.signing.jobFor(scope, digest, rules.signWith, opts.maySign) : undefined;
    const result = await this.ctx.meta.manifests
      .put({
        registryKey: scope.registryKey,
        repository: scope.name,
        createRepository,
        digest,
        mediaType: parsed.mediaType,
        payload,
        ...(parsed.artifactType !== undefined && { artifactType: parsed.artifactType }),
        ...(parsed.subject && { subject: parsed.subject.digest }),
        ...(parsed.annotations && { annotations: parsed.annotations }),
        blobs: parsed.blobs,
        manifests: parsed.manifests,
        declaredSizes: parsed.sizes,
        ...(opts.pullThrough && isIndexMediaType(parsed.mediaType) && { absentManifestsAllowed: true }),
        tags: tagWrites,
        ...(scan && { scan }),
        ...(events.length > 0 && { events }),
        ...(replications.length > 0 && { replications }),
        ...(sign && { jobs: [sign] }),
        limits: {
          repositoriesPerRegistry: quotas.repositoriesPerRegistry,
          imagesPerRepository: quotas.imagesPerRepository,
          tagsPerImage: quotas.tagsPerImage,
          referrersPerSubject: quotas.referrersPerSubject,
        },
        now,
      })
      .catch(rethrowQuota);
    switch (result.kind) {
      case 'repositoryUnknown':
        throw repositoryNotFound(scope);
      case 'missing':
        throw new RegistryError(
          result.blobs.length > 0 ? Codes.ManifestBlobUnknown : Codes.ManifestChildUnknown,
          result.blobs.length > 0
            ? `The following layers are not available in the repository: ${result.blobs.slice(0, 10).join(', ')}`
            : `The following referenced images were not found: ${result.manifests.slice(0, 10).join(', ')}`,
          { blobs: result.blobs, manifests: result.manifests },
        );
      case 'wrongSize':
        throw new RegistryError(
          Codes.ManifestInvalid,
          `a descriptor of ${result.digest} declares size ${result.declared}, but its content in the repository is ${result.actual} bytes`,
          { digest: result.digest, declared: result.declared, actual: result.actual },
        );
      case 'tagImmutable':
        throw new RegistryError(
          Codes.TagImmutable,
          `The image tag '${result.tag}' already exists in the '${scope.name}' repository and cannot be overwritten because the repository is immutable.`,
          { tag: result.tag, current: result.current },
        );
      case 'ok':
        break;
    }
    await restoreOnPush(this.ctx, scope, result.repositoryId, digest);
    // The image is stored and its job queued: a status not written here is written by the job.
    if (sign)
      await this.signing.started(sign.payload as SignJobPayload).catch((err: unknown) => this.ctx.log.warn({ err, digest }, 'signing status not recorded'));
    if (scan || sign || replications.length > 0) this.ctx.jobsQueued?.();
    if (events.length > 0) this.ctx.eventsQueued?.();
    this.ctx.log.info(
      { registryKey: scope.registryKey, repository: scope.name, reference: refText(reference), digest, tags, pushedBy: opts.pushedBy ?? 'unknown' },
      'manifest pushed',
    );
    return parsed.subject ? { digest, subject: parsed.subject.digest, tags } : { digest, tags };
  }

  /**
   * A manifest by tag or digest; `pull` records the read as a pull of the image (GET, not HEAD),
   * by `pulledBy` (the ARN pull-time update exclusions name, pull-recorder.ts).
   */
  async get(scope: RepoScope, reference: Reference, opts: PullOptions = {}): Promise<ManifestRecord> {
    parseRepositoryName(scope.name);
    // The repository and the manifest in one call: one round trip on PostgreSQL, one cache look on SQLite.
    const found = await this.ctx.meta.manifests.lookup(
      scope.registryKey,
      scope.name,
      reference.kind === 'tag' ? { tag: reference.tag } : { digest: reference.digest },
    );
    if (!found) throw repositoryNotFound(scope);
    const { repository: repo, manifest: m } = found;
    if (!m) throw new RegistryError(Codes.ManifestUnknown, 'manifest unknown to registry', { reference: refText(reference) });
    checkPullable(scope, m);
    if (opts.pull)
      this.pulls.record(repo.id, m.digest, { registryKey: scope.registryKey, ...(opts.pulledBy !== undefined && { principalArn: opts.pulledBy }) });
    return m;
  }

  /**
   * By digest: deletes the manifest and its tags, unless an index in the repository lists it
   * (ManifestReferenced, naming the indexes: delete them first). By tag: removes only the tag.
   */
  async delete(scope: RepoScope, reference: Reference): Promise<void> {
    if (!this.ctx.limits.deleteEnabled) throw new RegistryError(Codes.MethodNotAllowed, 'deletes are disabled');
    const repo = await requireRepository(this.ctx, scope);
    const now = this.ctx.clock.now();
    const events = deleteEvents(scope, now);
    const removed =
      reference.kind === 'tag'
        ? (await this.ctx.meta.tags.delete(repo.id, reference.tag, events && { events, now }))
          ? 'deleted'
          : 'missing'
        : await this.deleteByDigest(scope, repo.id, reference.digest, now, events);
    if (removed === 'missing') throw new RegistryError(Codes.ManifestUnknown, 'manifest unknown to registry', { reference: refText(reference) });
    if (events) this.ctx.eventsQueued?.();
    this.ctx.log.info({ repository: scope.name, reference: refText(reference) }, 'manifest deleted');
  }

  private async deleteByDigest(scope: RepoScope, repositoryId: number, digest: Digest, now: Date, events?: RemovalEvents): Promise<'deleted' | 'missing'> {
    const result = await this.ctx.meta.manifests.delete(repositoryId, digest, now, events);
    if (result.kind !== 'referenced') return result.kind;
    throw new RegistryError(
      Codes.ManifestReferenced,
      `manifest ${digest} is referenced by ${result.parents.length === 1 ? 'the index' : 'the indexes'} ${result.parents.join(', ')} in repository '${scope.name}'; delete the index first`,
      { digest, referencedBy: result.parents },
    );
  }

  /** Referrers of `subject`; an unknown subject has none (not an error, per OCI 1.1). */
  async referrers(scope: RepoScope, subject: Digest, artifactType?: string): Promise<ReferrerRecord[]> {
    const repo = await requireRepository(this.ctx, scope);
    return this.ctx.meta.manifests.referrers(repo.id, subject, artifactType);
  }
}

function refText(r: Reference): string {
  return r.kind === 'tag' ? r.tag : r.digest;
}
