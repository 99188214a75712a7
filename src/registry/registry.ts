/** The registry core: every use case, over one context. Front doors hold one of these. */
import { Blobs } from './blobs.js';
import { CatalogData } from './catalog-data.js';
import type { RegistryContext } from './context.js';
import { Images } from './images.js';
import { Listings } from './listings.js';
import { Manifests } from './manifests.js';
import { LifecyclePolicies } from './lifecycle-policies.js';
import { Policies } from './policies.js';
import { PullRecorder } from './pull-recorder.js';
import { RegistryConfig } from './registry-config.js';
import { RepositoryAdmin } from './repository-admin.js';
import { Uploads } from './uploads.js';

export interface Registry {
  readonly ctx: RegistryContext;
  readonly blobs: Blobs;
  readonly uploads: Uploads;
  readonly manifests: Manifests;
  /** Pull times, written in batches. */
  readonly pulls: PullRecorder;
  readonly listings: Listings;
  readonly images: Images;
  readonly repositories: RepositoryAdmin;
  readonly policies: Policies;
  readonly lifecyclePolicies: LifecyclePolicies;
  readonly config: RegistryConfig;
  readonly catalogData: CatalogData;
}

export function createRegistry(ctx: RegistryContext): Registry {
  const pulls = new PullRecorder(ctx);
  const manifests = new Manifests(ctx, pulls);
  return {
    ctx,
    pulls,
    blobs: new Blobs(ctx),
    uploads: new Uploads(ctx),
    manifests,
    listings: new Listings(ctx),
    images: new Images(ctx, manifests),
    repositories: new RepositoryAdmin(ctx),
    policies: new Policies(ctx),
    lifecyclePolicies: new LifecyclePolicies(ctx),
    config: new RegistryConfig(ctx),
    catalogData: new CatalogData(ctx),
  };
}
