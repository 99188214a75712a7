/**
 * Replication as the registry core sees it: which destinations a push goes to (the registry's
 * replication rules), the job each destination gets (written with the push, see
 * PutManifestInput.replications), the status DescribeImageReplicationStatus reports, and how a
 * destination creates a repository a replication needs. The copying itself is a background
 * feature (src/replication/), which moves the bytes over the destination's /v2.
 */
import type { CreationTemplates } from './creation-templates.js';
import type { Digest } from '../core/digest.js';
import { accountOf, parseRegistryKey, regionOf, registryKeyText, type RegistryKey } from '../core/registry-key.js';
import type { ReplicationDestination, ReplicationStart, ReplicationState, ReplicationStatusRecord } from '../metadata/replication.js';
import type { RegistryContext, RepoScope } from './context.js';
import type { ImageId, Images } from './images.js';
import type { ReplicationConfiguration } from './registry-config.js';

export const REPLICATE_JOB = 'replicate-image';

/** A replication job as stored in the job queue: one image (with the tags of its push) to one destination. */
export interface ReplicationJobPayload {
  /** The source registry key's stored text ("account:region"). */
  source: string;
  repository: string;
  digest: Digest;
  tags: string[];
  destination: ReplicationDestination;
}

/**
 * The destinations of a push to `scope`: every rule whose filters match the repository's name
 * by prefix (a rule without filters matches every repository), each destination once. The
 * registry itself is never one (PutReplicationConfiguration refuses it).
 */
export function replicationDestinations(config: ReplicationConfiguration, scope: RepoScope): ReplicationDestination[] {
  const out = new Map<string, ReplicationDestination>();
  for (const rule of config.rules) {
    const filters = rule.repositoryFilters ?? [];
    if (filters.length > 0 && !filters.some((f) => scope.name.startsWith(f.filter))) continue;
    for (const d of rule.destinations) {
      if (d.region === regionOf(scope.registryKey) && d.registryId === accountOf(scope.registryKey)) continue;
      out.set(`${d.region} ${d.registryId}`, { region: d.region, registryId: d.registryId });
    }
  }
  return [...out.values()];
}

export function replicationStarts(scope: RepoScope, digest: Digest, tags: readonly string[], destinations: ReplicationDestination[]): ReplicationStart[] {
  return destinations.map((destination) => {
    const payload: ReplicationJobPayload = { source: registryKeyText(scope.registryKey), repository: scope.name, digest, tags: [...tags], destination };
    return { destination, job: { kind: REPLICATE_JOB, account: accountOf(scope.registryKey), payload } };
  });
}

/** The source repository and image a stored job names. */
export function replicationJobSource(payload: ReplicationJobPayload): { scope: RepoScope; digest: Digest } {
  return { scope: { registryKey: parseRegistryKey(payload.source), name: payload.repository }, digest: payload.digest };
}

/**
 * Creates a repository a replication needs at the destination, from the destination's
 * REPLICATION creation template when one matches, else with ECR's defaults (the destination's
 * encryption defaults included). A racing creation is no error: an existing one is left as is.
 */
export async function createReplicaRepository(registry: { creationTemplates: CreationTemplates }, scope: RepoScope): Promise<void> {
  await registry.creationTemplates.createRepositoryFor(scope, 'REPLICATION');
}

export interface ImageReplicationStatus {
  region: string;
  registryId: string;
  status: ReplicationState;
  failureCode?: string;
}

export class ReplicationStatuses {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly images: Images,
  ) {}

  /** DescribeImageReplicationStatus: the image's status at each destination it was replicated to. */
  async describe(scope: RepoScope, id: ImageId): Promise<{ digest: Digest; statuses: ImageReplicationStatus[] }> {
    const digest = await this.images.digestOf(scope, id);
    const rows = await this.ctx.meta.replication.list(scope.registryKey, scope.name, digest);
    return { digest, statuses: rows.map(toWire) };
  }

  /** Records a destination's outcome (from the replication worker). */
  async record(source: RegistryKey, repository: string, digest: Digest, record: Omit<ReplicationStatusRecord, 'updatedAt'>): Promise<void> {
    await this.ctx.meta.replication.set(source, repository, digest, record, this.ctx.clock.now());
  }
}

function toWire(r: ReplicationStatusRecord): ImageReplicationStatus {
  return {
    region: r.destination.region,
    registryId: r.destination.registryId,
    status: r.status,
    ...(r.failureCode !== undefined && { failureCode: r.failureCode }),
  };
}
