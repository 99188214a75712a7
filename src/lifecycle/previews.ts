/**
 * Lifecycle policy previews (StartLifecyclePolicyPreview / GetLifecyclePolicyPreview): a dry
 * run whose result is kept in the metadata store, so any node can answer for it. Start returns
 * at once; evaluation runs in the background and the record turns COMPLETE (or FAILED). A
 * preview left IN_PROGRESS by a node that died is stale after PREVIEW_STALE_MS and may be
 * replaced.
 */
import { Codes, RegistryError } from '../core/errors.js';
import { accountOf } from '../core/registry-key.js';
import type { RepoScope } from '../registry/context.js';
import type { Registry } from '../registry/registry.js';
import { LifecycleEngine, type PlannedAction } from './engine.js';
import { LifecyclePolicyError, parseLifecyclePolicy } from '../registry/lifecycle-policy-validation.js';

const PREVIEW_STALE_MS = 10 * 60_000;

export class PreviewInProgress extends Error {}
export class PreviewNotFound extends Error {}

export interface PreviewView {
  policyText: string;
  status: 'IN_PROGRESS' | 'COMPLETE' | 'FAILED' | 'EXPIRED';
  actions: PlannedAction[];
}

interface StoredAction {
  d: string;
  t: string[];
  p: number;
  r: number;
  a: 'expire' | 'transition';
  /** The image's class when previewed (absent in previews stored before the archive class: standard). */
  s?: 'STANDARD' | 'ARCHIVE';
}

export class LifecyclePreviews {
  private readonly engine: LifecycleEngine;

  constructor(private readonly registry: Registry) {
    this.engine = new LifecycleEngine(registry);
  }

  /** Starts a preview of `policyText`, or of the stored policy; resolves once it is recorded. */
  async start(scope: RepoScope, policyText?: string): Promise<{ policyText: string; done: Promise<void> }> {
    const repo = await this.registry.repositories.get(scope);
    const text = policyText ?? (await this.registry.lifecyclePolicies.get(scope));
    try {
      parseLifecyclePolicy(text);
    } catch (e) {
      if (e instanceof LifecyclePolicyError) throw new RegistryError(Codes.InvalidParameter, e.message);
      throw e;
    }
    const now = this.registry.ctx.clock.now();
    const previews = this.registry.ctx.meta.lifecyclePreviews;
    if (!(await previews.start(repo.id, text, now, new Date(now.getTime() - PREVIEW_STALE_MS)))) {
      throw new PreviewInProgress(
        `Lifecycle policy preview is already in progress for the repository with name '${scope.name}' in the registry with id '${accountOf(scope.registryKey)}'`,
      );
    }
    const done = (async () => {
      try {
        const { actions } = await this.engine.plan(scope, text);
        const stored: StoredAction[] = actions.map((a) => ({
          d: a.digest,
          t: a.tags,
          p: a.pushedAt.getTime(),
          r: a.rulePriority,
          a: a.action,
          s: a.storageClass,
        }));
        await previews.finish(repo.id, 'COMPLETE', JSON.stringify(stored));
      } catch (err) {
        this.registry.ctx.log.error({ err, repository: scope.name }, 'lifecycle preview failed');
        await previews.finish(repo.id, 'FAILED', undefined).catch(() => undefined);
      }
    })();
    return { policyText: text, done };
  }

  async get(scope: RepoScope): Promise<PreviewView> {
    const repo = await this.registry.repositories.get(scope);
    const p = await this.registry.ctx.meta.lifecyclePreviews.get(repo.id);
    if (!p) {
      throw new PreviewNotFound(`There is no dry run for the repository with name '${scope.name}' in the registry with id '${accountOf(scope.registryKey)}'`);
    }
    const stale = p.status === 'IN_PROGRESS' && this.registry.ctx.clock.now().getTime() - p.startedAt.getTime() > PREVIEW_STALE_MS;
    const stored = p.results ? (JSON.parse(p.results) as StoredAction[]) : [];
    return {
      policyText: p.policyText,
      status: stale ? 'EXPIRED' : p.status,
      actions: stored.map((s) => ({ digest: s.d, tags: s.t, pushedAt: new Date(s.p), rulePriority: s.r, action: s.a, storageClass: s.s ?? 'STANDARD' })),
    };
  }
}
