/**
 * One repository's images as a listing page reads them, the repository looked up once for the
 * page. A page is read in slices (http/ecr/sliced-page.ts), and every slice looked the repository
 * up again before each read: on PostgreSQL, where each lookup is a round trip (the read cache is
 * SQLite's), a 1,000-image DescribeImages page made 60 queries, 30 of them the same lookup.
 */
import { isIndexMediaType } from '../core/media-types.js';
import type { ImageStatusFilter } from '../metadata/archive.js';
import type { ImageIdSummary, ImageScanRecord, ImageSummary, MetadataStore, Page, RepositoryRecord, TagStatus } from '../metadata/types.js';

export interface ImageDetail extends ImageSummary {
  /** ECR's imageSizeInBytes: the blobs of an image, or the largest child of an index. */
  sizeInBytes: number;
}

export class ImageListing {
  constructor(
    private readonly meta: MetadataStore,
    readonly repo: RepositoryRecord,
    private readonly tagStatus: TagStatus = 'ANY',
    private readonly imageStatus: ImageStatusFilter = 'ACTIVE',
  ) {}

  list(page: Page): Promise<ImageSummary[]> {
    return this.meta.images.list(this.repo.id, page, this.tagStatus, this.imageStatus);
  }

  /** The same images as `list`, digests and tags only. */
  listIds(page: Page): Promise<ImageIdSummary[]> {
    return this.meta.images.listIds(this.repo.id, page, this.tagStatus, this.imageStatus);
  }

  /** Details with sizes; an index's size is its largest child's, as ECR reports it. */
  async details(images: ImageSummary[]): Promise<ImageDetail[]> {
    const childDigests = images.flatMap((i) => (isIndexMediaType(i.mediaType) ? i.children : []));
    // No index, no read (a round trip on PostgreSQL).
    const children =
      childDigests.length === 0 ? new Map<string, ImageSummary>() : new Map((await this.meta.images.get(this.repo.id, childDigests)).map((c) => [c.digest, c]));
    return images.map((i) => {
      const sizeInBytes = isIndexMediaType(i.mediaType) ? Math.max(0, ...i.children.map((c) => children.get(c)?.blobBytes ?? 0)) : i.blobBytes;
      return { ...i, sizeInBytes };
    });
  }

  /**
   * Details and the scan records of the same images, the two reads in flight together.
   * `consecutive`: the images are a slice of this listing's pages (ScanStore.getMany).
   */
  async described(images: ImageSummary[], consecutive = false): Promise<{ details: ImageDetail[]; scans: Map<string, ImageScanRecord> }> {
    const [details, scans] = await Promise.all([
      this.details(images),
      this.meta.scans.getMany(
        this.repo.id,
        images.map((i) => i.digest),
        consecutive,
      ),
    ]);
    return { details, scans };
  }
}
