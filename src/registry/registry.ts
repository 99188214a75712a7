/** The registry core: every use case, over one context. Front doors hold one of these. */
import { Blobs } from './blobs.js';
import type { RegistryContext } from './context.js';
import { Listings } from './listings.js';
import { Manifests } from './manifests.js';
import { Uploads } from './uploads.js';

export interface Registry {
  readonly ctx: RegistryContext;
  readonly blobs: Blobs;
  readonly uploads: Uploads;
  readonly manifests: Manifests;
  readonly listings: Listings;
}

export function createRegistry(ctx: RegistryContext): Registry {
  return {
    ctx,
    blobs: new Blobs(ctx),
    uploads: new Uploads(ctx),
    manifests: new Manifests(ctx),
    listings: new Listings(ctx),
  };
}
