/** The registry core: every use case, over one context. Front doors hold one of these. */
import { Blobs } from './blobs.js';
import { CatalogData } from './catalog-data.js';
import type { RegistryContext } from './context.js';
import { CreationTemplates } from './creation-templates.js';
import { Images } from './images.js';
import { LayerUploads } from './layer-uploads.js';
import { Listings } from './listings.js';
import { Manifests } from './manifests.js';
import { LifecyclePolicies } from './lifecycle-policies.js';
import { Policies } from './policies.js';
import { PullRecorder } from './pull-recorder.js';
import { PullExclusions } from './pull-exclusions.js';
import { RegistryConfig } from './registry-config.js';
import { RepositoryAdmin } from './repository-admin.js';
import { ReplicationStatuses } from './replication.js';
import { ReplicationBackfills } from './replication-backfills.js';
import { Scans } from './scans.js';
import { Signing } from './signing.js';
import { Uploads } from './uploads.js';
import { Quotas } from './quotas.js';
import { ApiRates } from './api-rates.js';
import { StorageClasses } from './storage-classes.js';

export interface Registry {
  readonly ctx: RegistryContext;
  readonly blobs: Blobs;
  readonly uploads: Uploads;
  /** The ECR layer API's rules over the same uploads. */
  readonly layers: LayerUploads;
  readonly manifests: Manifests;
  /** Pull times, written in batches. */
  readonly pulls: PullRecorder;
  /** The principals whose pulls record no pull time. */
  readonly pullExclusions: PullExclusions;
  readonly listings: Listings;
  readonly images: Images;
  readonly repositories: RepositoryAdmin;
  readonly policies: Policies;
  readonly lifecyclePolicies: LifecyclePolicies;
  readonly config: RegistryConfig;
  readonly catalogData: CatalogData;
  readonly scans: Scans;
  /** Repository creation templates, and createRepositoryFor: how replication and the pull-through cache create repositories. */
  readonly creationTemplates: CreationTemplates;
  readonly replication: ReplicationStatuses;
  /** Replication of the images a registry already holds to one destination (StartReplicationBackfill). */
  readonly backfills: ReplicationBackfills;
  /** ECR's service quotas: values per account, and the refusal naming one. */
  readonly quotas: Quotas;
  /** Per-account API rates; undefined when nothing is throttled. */
  readonly apiRates: ApiRates | undefined;
  /** The archive storage class: UpdateImageStorageClass, lifecycle transitions, restores. */
  readonly storageClasses: StorageClasses;
  /** Managed signing: the signing configuration, what a push calls for, images' signing statuses. */
  readonly signing: Signing;
}

export function createRegistry(ctx: RegistryContext): Registry {
  const pulls = new PullRecorder(ctx);
  const quotas = new Quotas(ctx);
  const config = new RegistryConfig(ctx);
  const signing = new Signing(ctx, () => images);
  const manifests = new Manifests(ctx, pulls, quotas, (scope) => config.pushRules(scope), signing);
  const images: Images = new Images(ctx, manifests);
  const blobs = new Blobs(ctx, quotas);
  const uploads = new Uploads(ctx, quotas);
  return {
    ctx,
    pulls,
    pullExclusions: new PullExclusions(ctx),
    blobs,
    uploads,
    layers: new LayerUploads(ctx, uploads, blobs, quotas),
    manifests,
    listings: new Listings(ctx),
    images,
    repositories: new RepositoryAdmin(ctx, quotas),
    policies: new Policies(ctx),
    lifecyclePolicies: new LifecyclePolicies(ctx),
    config,
    catalogData: new CatalogData(ctx),
    scans: new Scans(ctx, images),
    creationTemplates: new CreationTemplates(ctx, quotas),
    replication: new ReplicationStatuses(ctx, images),
    backfills: new ReplicationBackfills(ctx, config),
    quotas,
    storageClasses: new StorageClasses(ctx, images),
    signing,
    apiRates: ctx.limits.apiRates && new ApiRates(ctx.limits.apiRates, ctx.limits.apiRateNodes ?? 1, () => ctx.clock.now().getTime()),
  };
}
