/**
 * DescribeImages' page code run at start on made-up images, so that a user's first listing after
 * a restart is not the one that pays for V8's cold code. A page shapes every image through
 * several small functions (toSummary, details, imageDetailShape, scanSummaryShape, the wire
 * writer); on a fresh process the first 1,000-image page ran them in the interpreter and the
 * optimizing compilers' threads competed with it for the two cores: its server CPU was ~10 ms
 * more than a warm page's, and the first walk's pages cost ~2x the later walks' in all
 * (notes/2026-12-06-s25-list.md). Run here, the same code gathers its type feedback and gets
 * compiled before any request, for a few ms of start.
 *
 * It touches no data: the images are made up (sqlite/images.ts' syntheticImageRow, rows with the
 * hidden class real rows have), read from no store, and the answer is dropped. It runs the
 * production functions themselves (describeImagesPage), not copies, so what it warms is what a
 * listing runs; on PostgreSQL all but the SQLite row conversion is the same code.
 */
import type { Digest } from '../core/digest.js';
import { syntheticImages } from '../metadata/sqlite/images.js';
import type { ImageScanRecord, MetadataStore, Page, RepositoryRecord } from '../metadata/types.js';
import { ImageListing } from '../registry/image-listing.js';
import { describeImagesPage } from '../http/ecr/actions/images.js';
import { wireJson } from '../http/ecr/wire-json.js';

/** Made-up images, and how many are read a page: a page is read a slice of 100 at a time. */
const IMAGES = 1200;
const PAGE = 300;

const indexOf = (digest: string) => Number.parseInt(digest.slice('sha256:'.length), 16);

function madeUpScan(i: number): ImageScanRecord {
  return i % 2 === 0
    ? { status: 'IN_PROGRESS', description: 'The scan is in progress.', startedAt: new Date(1_700_000_000_000 + i) }
    : {
        status: 'COMPLETE',
        description: 'The scan was completed successfully.',
        startedAt: new Date(1_700_000_000_000 + i),
        completedAt: new Date(1_700_000_001_000 + i),
        findings: '{"findingSeverityCounts":{"LOW":1},"findings":[]}',
      };
}

/** Runs DescribeImages' pages over made-up images; returns how long it took and how many images its pages described. */
export async function warmListingCode(): Promise<{ ms: number; images: number }> {
  const started = performance.now();
  let images = 0;
  // Only what a listing reads: its page of images and their scans (every seventh has one).
  const stores = {
    images: {
      list: async (_repositoryId: number, page: Page) => {
        const from = page.after === undefined ? 0 : indexOf(page.after) + 1;
        return syntheticImages(from, Math.max(0, Math.min(page.limit, IMAGES - from)));
      },
    },
    scans: {
      // Asked once per slice with the images being described: they are counted here.
      getMany: async (_repositoryId: number, digests: Digest[]) => {
        images += digests.length;
        return new Map(digests.filter((d) => indexOf(d) % 7 === 0).map((d) => [d, madeUpScan(indexOf(d) / 7)] as const));
      },
    },
  };
  const repo = { id: 0, name: 'warm-up' } as RepositoryRecord;
  const listing = new ImageListing(stores as unknown as MetadataStore, repo);
  const accountId = '000000000000';
  for (let from = 0; from < IMAGES; from += PAGE) {
    const after = from === 0 ? undefined : `sha256:${(from - 1).toString(16).padStart(64, '0')}`;
    wireJson(await describeImagesPage(listing, accountId, repo.name, PAGE, after));
  }
  return { ms: performance.now() - started, images };
}
