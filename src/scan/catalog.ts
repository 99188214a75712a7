/**
 * The advisories a node matches against: an in-memory AdvisoryIndex built from the metadata
 * store, rebuilt when any node imports new advisories (the sources' updatedAt moves). Checked at
 * most every CHECK_MS, so a scan does not query the sources on every run.
 */
import type { ScanStore } from '../metadata/types.js';
import { AdvisoryIndex } from './advisories/advisory-index.js';
import { parseOsv } from './advisories/osv.js';

const CHECK_MS = 5_000;
const PAGE = 1000;

export class AdvisoryCatalog {
  private current: AdvisoryIndex | undefined;
  private version = -1;
  private checkedAt = 0;
  private loading: Promise<AdvisoryIndex> | undefined;
  /** When the newest advisories were imported (ECR's vulnerabilitySourceUpdatedAt). */
  updatedAt: Date | undefined;

  constructor(private readonly scans: ScanStore) {}

  async index(): Promise<AdvisoryIndex> {
    if (this.current && Date.now() - this.checkedAt < CHECK_MS) return this.current;
    this.loading ??= this.refresh().finally(() => (this.loading = undefined));
    return this.loading;
  }

  /** Forgets the loaded index (after this node imported advisories). */
  invalidate(): void {
    this.checkedAt = 0;
  }

  private async refresh(): Promise<AdvisoryIndex> {
    const sources = await this.scans.sources();
    const version = Math.max(-1, ...sources.map((s) => s.updatedAt.getTime()));
    this.checkedAt = Date.now();
    if (this.current && version === this.version) return this.current;
    const index = new AdvisoryIndex();
    for (let after = ''; ; ) {
      const page = await this.scans.advisories(after, PAGE);
      for (const a of page) {
        const parsed = parseOsv(a.document);
        if (parsed.ok) index.add(parsed.advisory);
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.id;
    }
    this.current = index;
    this.version = version;
    this.updatedAt = version >= 0 ? new Date(version) : undefined;
    return index;
  }
}
