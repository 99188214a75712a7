/**
 * The advisories a node matches against: an in-memory AdvisoryIndex built from the metadata
 * store, rebuilt when any node imports new advisories (the sources' updatedAt moves). Every use
 * checks the sources (one small query; a scan costs far more), so a scan right after an import
 * sees it.
 */
import type { ScanStore } from '../metadata/types.js';
import { AdvisoryIndex } from './advisories/advisory-index.js';
import { parseOsv } from './advisories/osv.js';

const PAGE = 1000;

export class AdvisoryCatalog {
  private current: AdvisoryIndex | undefined;
  private version = -1;
  private loading: Promise<AdvisoryIndex> | undefined;
  /** When the newest advisories were imported (ECR's vulnerabilitySourceUpdatedAt). */
  updatedAt: Date | undefined;

  constructor(private readonly scans: ScanStore) {}

  async index(): Promise<AdvisoryIndex> {
    this.loading ??= this.refresh().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async refresh(): Promise<AdvisoryIndex> {
    const sources = await this.scans.sources();
    const version = Math.max(-1, ...sources.map((s) => s.updatedAt.getTime()));
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
