/**
 * Runs replication jobs: copies one pushed image of a source repository to one destination
 * (another region's deployment, or another account here) over the destination's /v2, then
 * records COMPLETE or FAILED for DescribeImageReplicationStatus.
 *
 * Children first: blobs, then child manifests (an index's images), then the image itself with
 * the tags of its push that still point at it at the source (so an old job cannot move a tag
 * back). Everything the destination already has is skipped (HEAD first), so a job retried
 * after a crash, a node loss or a destination outage resumes without sending anything twice,
 * and a replicated image has the same digests. Referrers (signatures, SBOMs) are pushes of
 * their own and replicate by their own jobs.
 *
 * A destination that cannot be reached fails the attempt (the job worker retries it with
 * backoff, the status stays IN_PROGRESS); a destination that refuses (its policy does not
 * allow the source account, an immutable tag) fails the replication for good (FAILED).
 */
import type { Logger } from 'pino';
import type { Digest } from '../core/digest.js';
import { accountOf, regionOf } from '../core/registry-key.js';
import type { JobRecord } from '../metadata/types.js';
import type { ReplicationDestination } from '../metadata/replication.js';
import { parseManifest } from '../registry/manifest-parse.js';
import type { Registry } from '../registry/registry.js';
import { replicationJobSource, type ReplicationJobPayload } from '../registry/replication.js';
import type { RepoScope } from '../registry/context.js';
import { PeerRefusal, PeerRepository } from './peer-client.js';

export interface ReplicationCredentialRequest {
  sourceAccountId: string;
  sourceRegion: string;
  destinationAccountId: string;
  destinationRegion: string;
  repository: string;
}

export interface ReplicatorOptions {
  registry: Registry;
  log: Logger;
  /**
   * The /v2 endpoint of a region's deployment (this one's own included); undefined when no
   * endpoint is configured (a permanent failure); throws when it cannot tell yet (retried).
   */
  endpointOf: (region: string) => string | undefined;
  /** A short-lived replication token for one destination repository (minted with the server key). */
  credential: (request: ReplicationCredentialRequest) => string;
}

export class Replicator {
  constructor(private readonly opts: ReplicatorOptions) {}

  async run(job: JobRecord, signal: AbortSignal): Promise<void> {
    const payload = job.payload as ReplicationJobPayload;
    const { scope, digest } = replicationJobSource(payload);
    const outcome = await this.replicate(scope, digest, payload.tags, payload.destination, signal);
    await this.opts.registry.replication.record(scope.registryKey, scope.name, digest, { destination: payload.destination, ...outcome });
  }

  /**
   * Copies one image of `scope` with those of `tags` that still point at it to `destination`:
   * COMPLETE, or FAILED with the failure code when it cannot be (the image is gone, the
   * destination refuses or is unknown). Throws when the destination cannot be reached (retried).
   */
  async replicate(
    scope: RepoScope,
    digest: Digest,
    tags: readonly string[],
    destination: ReplicationDestination,
    signal: AbortSignal,
  ): Promise<{ status: 'COMPLETE' | 'FAILED'; failureCode?: string }> {
    const { registry, log } = this.opts;
    const repo = await registry.ctx.meta.repositories.find(scope.registryKey, scope.name);
    const image = repo && (await registry.ctx.meta.images.get(repo.id, [digest]))[0];
    if (!repo || !image) {
      // Deleted at the source before it was copied: nothing left to replicate.
      return { status: 'FAILED', failureCode: 'IMAGE_NOT_FOUND' };
    }
    const endpoint = this.opts.endpointOf(destination.region);
    if (endpoint === undefined) {
      log.warn({ region: destination.region }, 'replication destination region has no endpoint (config regions)');
      return { status: 'FAILED', failureCode: 'UNKNOWN_DESTINATION_REGION' };
    }
    const token = this.opts.credential({
      sourceAccountId: accountOf(scope.registryKey),
      sourceRegion: regionOf(scope.registryKey),
      destinationAccountId: destination.registryId,
      destinationRegion: destination.region,
      repository: scope.name,
    });
    const peer = new PeerRepository(endpoint, scope.name, token, signal);
    try {
      const sent = await this.copy(
        scope,
        repo.id,
        digest,
        tags.filter((t) => image.tags.includes(t)),
        peer,
        true,
      );
      log.info({ repository: scope.name, digest, destination, blobsSent: sent }, 'image replicated');
      return { status: 'COMPLETE' };
    } catch (e) {
      if (!(e instanceof PeerRefusal)) throw e;
      log.warn({ repository: scope.name, digest, destination, failureCode: e.failureCode, reason: e.message }, 'replication refused by the destination');
      return { status: 'FAILED', failureCode: e.failureCode };
    }
  }

  /** Copies a manifest and everything it needs; returns how many blobs were sent. */
  private async copy(scope: RepoScope, repositoryId: number, digest: Digest, tags: string[], peer: PeerRepository, top: boolean): Promise<number> {
    const { registry } = this.opts;
    // A child already at the destination brought its own children; the top manifest is always
    // put, since its tags are what the push changed.
    if (!top && (await peer.hasManifest(digest))) return 0;
    const m = await registry.ctx.meta.manifests.find(repositoryId, digest);
    if (!m) throw new PeerRefusal('IMAGE_NOT_FOUND', `${digest} is no longer in ${scope.name}`);
    const parsed = parseManifest(m.payload, m.mediaType);
    let sent = 0;
    for (const blob of parsed.blobs) {
      if (await peer.hasBlob(blob)) continue;
      const record = await registry.ctx.meta.blobs.findInRepository(repositoryId, blob);
      if (!record) throw new PeerRefusal('IMAGE_NOT_FOUND', `blob ${blob} is no longer in ${scope.name}`);
      await peer.uploadBlob(blob, record.size, await registry.blobs.open(scope, blob, undefined, peer.signal));
      sent++;
    }
    for (const child of parsed.manifests) sent += await this.copy(scope, repositoryId, child, [], peer, false);
    await peer.putManifest(digest, m.mediaType, m.payload, tags);
    return sent;
  }
}
