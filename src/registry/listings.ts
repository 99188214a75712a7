/** Paginated listings: a repository's tags and a registry's repositories, in lexical order. */
import { Codes, RegistryError } from '../core/errors.js';
import type { RegistryContext, RepoScope } from './context.js';
import { requireRepository } from './repositories.js';
import type { RegistryKey } from '../core/registry-key.js';

export interface PageRequest {
  /** `n`: how many; undefined means the server's maximum page. */
  limit?: number;
  /** `last`: the last name of the previous page. */
  last?: string;
}

export interface PageResult {
  items: string[];
  /** The `last` to ask for the next page with, when there may be more. */
  next?: string;
}

export class Listings {
  constructor(private readonly ctx: RegistryContext) {}

  async tags(scope: RepoScope, page: PageRequest): Promise<PageResult> {
    const repo = await requireRepository(this.ctx, scope);
    return this.paginate(page, (p) => this.ctx.meta.tags.list(repo.id, p));
  }

  async catalog(registryKey: RegistryKey, page: PageRequest): Promise<PageResult> {
    return this.paginate(page, (p) => this.ctx.meta.repositories.list(registryKey, p));
  }

  private async paginate(page: PageRequest, fetch: (p: { after?: string; limit: number }) => Promise<string[]>): Promise<PageResult> {
    const max = this.ctx.limits.maxPageSize;
    if (page.limit !== undefined && (!Number.isSafeInteger(page.limit) || page.limit < 0)) {
      throw new RegistryError(Codes.PaginationInvalid, 'n must be a non-negative integer');
    }
    const limit = Math.min(page.limit ?? max, max);
    if (limit === 0) return { items: [] };
    // One extra row tells whether another page exists without a second query.
    const rows = await fetch({ ...(page.last !== undefined && { after: page.last }), limit: limit + 1 });
    if (rows.length <= limit) return { items: rows };
    const items = rows.slice(0, limit);
    return { items, next: items[items.length - 1]! };
  }
}
