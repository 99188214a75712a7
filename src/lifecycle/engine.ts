/**
 * Applies lifecycle policies to repositories: reads every image once, asks the pure evaluator
 * what to act on, and expires through the registry's own image delete (the path BatchDeleteImage
 * takes), so an expiry is exactly a user's delete; a transition archives through the path
 * UpdateImageStorageClass takes (its bytes then move in the background). Used by the periodic
 * task, `berth lifecycle run` and the preview API. Images being restored (ACTIVATING) are in
 * neither class: no rule sees them until they are ACTIVE.
 *
 * What is evaluated: every image of the repository except those that go with another image —
 * children of an index (deleting one would break the index) and referrers whose subject is in
 * the repository (signatures, SBOMs). Expiring an image expires its referrers with it, in one
 * transaction that first checks the image is still what was evaluated (images.expire).
 */
import type { Digest } from '../core/digest.js';
import { parseRepositoryPolicyScope } from '../metadata/policy-scopes.js';
import type { RepoScope } from '../registry/context.js';
import type { Registry } from '../registry/registry.js';
import { evaluateLifecyclePolicy, type LifecycleAction } from './evaluator.js';
import { parseLifecyclePolicy } from '../registry/lifecycle-policy-validation.js';
import type { RegistryKey } from '../core/registry-key.js';

export interface PlannedAction extends LifecycleAction {
  tags: string[];
  pushedAt: Date;
  /** The image's class now (the preview's storageClass). */
  storageClass: 'STANDARD' | 'ARCHIVE';
}

export interface LifecycleRunReport {
  registryKey: RegistryKey;
  repository: string;
  dryRun: boolean;
  /** Images the policy was evaluated over. */
  evaluated: number;
  expired: PlannedAction[];
  /** Referrers removed with an expired subject. */
  referrersExpired: number;
  /** Images archived (or, in a dry run, to be archived) by a transition rule. */
  transitioned: PlannedAction[];
  failures: Array<{ digest: string; reason: string }>;
  /** Planned expiries and transitions not done because a user changed the image since the evaluation. */
  kept: Array<{ digest: string; reason: string }>;
}

export class LifecycleEngine {
  constructor(private readonly registry: Registry) {}

  /** What `policyText` would do to the repository now, oldest first; changes nothing. */
  async plan(scope: RepoScope, policyText: string): Promise<{ evaluated: number; actions: PlannedAction[] }> {
    const policy = parseLifecyclePolicy(policyText);
    const repo = await this.registry.repositories.get(scope);
    await this.registry.pulls.flush();
    const candidates = await this.registry.ctx.meta.images.lifecycleCandidates(repo.id);
    const evaluated = candidates.filter((c) => !c.inIndex && c.subject === undefined && c.imageStatus !== 'ACTIVATING');
    const byDigest = new Map(evaluated.map((c) => [c.digest as string, c]));
    const images = evaluated.map((c) => ({ ...c, storageClass: c.imageStatus === 'ARCHIVED' ? ('archive' as const) : ('standard' as const) }));
    const actions = evaluateLifecyclePolicy(policy, images, this.registry.ctx.clock.now()).map((a) => {
      const c = byDigest.get(a.digest)!;
      return { ...a, tags: c.tags, pushedAt: c.pushedAt, storageClass: c.imageStatus === 'ARCHIVED' ? ('ARCHIVE' as const) : ('STANDARD' as const) };
    });
    return { evaluated: evaluated.length, actions };
  }

  /** Evaluates the repository's stored policy and, unless `dryRun`, expires what it selects. */
  async run(scope: RepoScope, opts: { dryRun?: boolean } = {}): Promise<LifecycleRunReport> {
    const dryRun = opts.dryRun ?? false;
    const text = await this.registry.lifecyclePolicies.get(scope);
    const { evaluated, actions } = await this.plan(scope, text);
    const report: LifecycleRunReport = {
      registryKey: scope.registryKey,
      repository: scope.name,
      dryRun,
      evaluated,
      expired: [],
      referrersExpired: 0,
      transitioned: [],
      failures: [],
      kept: [],
    };
    const expiring = actions.filter((a) => a.action === 'expire');
    const transitioning = actions.filter((a) => a.action === 'transition');
    if (dryRun) {
      report.expired = expiring;
      report.transitioned = transitioning;
      return report;
    }
    const repo = await this.registry.repositories.get(scope);
    for (const a of transitioning) {
      try {
        const done = await this.registry.storageClasses.transition(scope, repo.id, a.digest as Digest, a.tags);
        if (done.kind === 'archived') report.transitioned.push(a);
        else if (done.kind === 'kept') this.kept(scope, a, done.reason, report);
      } catch (err) {
        report.failures.push({ digest: a.digest, reason: (err as Error).message });
      }
    }
    for (const a of expiring) await this.expire(scope, a, report);
    await this.registry.ctx.meta.repositories.setLifecycleEvaluatedAt(repo.id, this.registry.ctx.clock.now());
    return report;
  }

  /** Every repository with a lifecycle policy, optionally in one registry. */
  async runAll(opts: { dryRun?: boolean; registryKey?: RegistryKey } = {}): Promise<LifecycleRunReport[]> {
    const reports: LifecycleRunReport[] = [];
    for (const scope of await this.scopesWithPolicies()) {
      if (opts.registryKey !== undefined && scope.registryKey !== opts.registryKey) continue;
      try {
        reports.push(await this.run(scope, opts));
      } catch (err) {
        this.registry.ctx.log.error({ err, repository: scope.name, registryKey: scope.registryKey }, 'lifecycle evaluation failed');
      }
    }
    return reports;
  }

  private async scopesWithPolicies(): Promise<RepoScope[]> {
    const out: RepoScope[] = [];
    for (const s of await this.registry.ctx.meta.policies.scopes('lifecycle')) {
      const scope = parseRepositoryPolicyScope(s);
      if (scope) out.push(scope);
    }
    return out;
  }

  /**
   * Expires one planned image with its referrers, all or nothing, only while it is still what the
   * policy was evaluated on: an image a user tagged, untagged or put in an index since is kept
   * (the next evaluation decides on what it is then), and so is its signature.
   */
  private async expire(scope: RepoScope, action: PlannedAction, report: LifecycleRunReport): Promise<void> {
    const result = await this.registry.images.expire(scope, action.digest as Digest, action.tags);
    const log = { registryKey: scope.registryKey, repository: scope.name, digest: action.digest, tags: action.tags, rulePriority: action.rulePriority };
    switch (result.kind) {
      case 'expired':
        report.expired.push(action);
        report.referrersExpired += result.referrers.length;
        for (const referrer of result.referrers) this.registry.ctx.log.info({ ...log, referrer }, 'lifecycle expired referrer');
        this.registry.ctx.log.info(log, 'lifecycle expired image');
        return;
      case 'missing':
        return; // Gone already (a concurrent delete): what we wanted.
      case 'changed':
        return this.kept(scope, action, `its tags changed since the evaluation (now: ${result.tags.join(', ') || 'untagged'})`, report);
      case 'referenced':
        return this.kept(scope, action, `an index now lists it or one of its referrers: ${result.parents.join(', ')}`, report);
    }
  }

  /** A planned action not taken: a user changed the image since the evaluation. */
  private kept(scope: RepoScope, action: PlannedAction, reason: string, report: LifecycleRunReport): void {
    report.kept.push({ digest: action.digest, reason });
    this.registry.ctx.log.info(
      { registryKey: scope.registryKey, repository: scope.name, digest: action.digest, tags: action.tags, action: action.action, reason },
      'lifecycle kept image changed since the evaluation',
    );
  }
}
