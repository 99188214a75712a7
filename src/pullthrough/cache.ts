/**
 * The pull-through cache's pull path: a pull of `<ecrRepositoryPrefix>/<repo>` that the registry
 * lacks is fetched from the rule's upstream (`<upstreamRepositoryPrefix>/<repo>`), served, and
 * stored, in a repository created with the PULL_THROUGH_CACHE creation template.
 *
 * - A manifest is served as soon as it is fetched and verified (≤ maxManifestBytes). An index is
 *   stored at once, its absent children allowed (the core's one exception for cache imports); a
 *   child is fetched when it is pulled by digest, so only the platforms pulled are cached. An
 *   image manifest is stored once all its blobs are, by an import that runs on after the answer.
 * - A blob streams to every client that asks for it while one upstream fetch per repository and
 *   digest spools it (blob-fetch.ts) into the verified upload path; only then is it visible.
 * - A cached tag is checked upstream again at most once per `tagRecheckMs` (its time is a
 *   `ptc-tag` document); a digest never needs the upstream again. When the upstream fails, what
 *   is cached is served; what is not gets an error naming the upstream and what it did.
 *
 * Per node: two nodes pulling the same cold blob each fetch it once (no cross-node lock); both
 * commits are of the same verified bytes, so either wins harmlessly.
 */
import type { Readable } from 'node:stream';
import type { Clock } from '../core/clock.js';
import type { Digest } from '../core/digest.js';
import { Codes, isRegistryError, RegistryError } from '../core/errors.js';
import { halfShare, KeyedSlots } from '../core/keyed-slots.js';
import type { Reference, Tag } from '../core/names.js';
import { accountOf, registryKeyText } from '../core/registry-key.js';
import type { DocumentStore } from '../metadata/documents.js';
import type { RepositoryRecord } from '../metadata/types.js';
import type { RepoScope } from '../registry/context.js';
import { parseManifest } from '../registry/manifest-parse.js';
import type { Registry } from '../registry/registry.js';
import type { PullOptions } from '../registry/manifests.js';
import { BlobFetch } from './blob-fetch.js';
import type { PullThroughRule, PullThroughRules } from './rules.js';
import type { UpstreamClient } from './upstream.js';
import { upstreamBlob, upstreamManifest, upstreamName, upstreamTagDigest, type PulledManifest } from './upstream-content.js';

export type { PulledManifest } from './upstream-content.js';

/** Who pulls: may they import from upstream (and create the repository)? Throws Denied if not. */
export interface ImportAccess {
  check(createsRepository: boolean): Promise<void>;
  /** The same question, for work the pull can do without (a tag's re-check): false, not Denied. */
  allows(createsRepository: boolean): Promise<boolean>;
}

/** A blob the registry lacked: now streaming from its upstream fetch, or already stored (read it as usual). */
export type PulledBlob = { kind: 'stored' } | { kind: 'streaming'; size: number | undefined; body: Readable };

export interface PullThroughCacheOptions {
  /** Where blob fetches spool (files unlinked at once; see blob-fetch.ts). */
  spoolDir: string;
  /** A cached tag is checked upstream again after this long. */
  tagRecheckMs: number;
  /** An upstream silent this long (headers or body) has failed. */
  upstreamTimeoutMs: number;
  /** Blob fetches in flight on this node (half of them per account at most); more are refused (429) until some end. */
  maxFetches: number;
}

const TAG_KIND = 'ptc-tag';
/** The upstream check of a cached tag must not hold a pull long: past this, the cached tag is served. */
const RECHECK_TIMEOUT_MS = 5000;
/** After a failed check the tag is tried again this much later (not at every pull). */
const RECHECK_RETRY_MS = 60_000;
/** Blobs of one image imported at once after its manifest was served (clients start others). */
const IMPORT_CONCURRENCY = 3;
/** How long a committed fetch stays listed (see blobFetch). */
const DONE_FETCH_KEPT_MS = 10_000;
/** Upstream clients (with their tokens) are rebuilt this often, so a changed secret is read. */
const CLIENT_TTL_MS = 5 * 60_000;

interface TagState {
  digest: Digest;
  checkedAt: number;
}

export class PullThroughCache {
  private readonly fetches = new Map<string, Promise<BlobFetch>>();
  /** Fetches still reading from their upstream, by account: what the caps count (a done fetch kept listed holds nothing). */
  private readonly running: KeyedSlots;
  private readonly manifestFetches = new Map<string, Promise<PulledManifest>>();
  /** Image manifests served while their blobs are being imported, by repository and reference. */
  private readonly pending = new Map<string, PulledManifest>();
  /** Image imports running, by repository and digest. */
  private readonly imports = new Map<string, Promise<void>>();
  private readonly clients = new Map<string, { client: UpstreamClient; until: number }>();

  constructor(
    private readonly registry: Registry,
    private readonly rules: PullThroughRules,
    private readonly docs: DocumentStore,
    private readonly clock: Clock,
    private readonly opts: PullThroughCacheOptions,
  ) {
    this.running = new KeyedSlots(opts.maxFetches, halfShare(opts.maxFetches));
  }

  /**
   * The manifest a pull asks for: the registry's (a tag checked upstream again when its interval
   * passed), else one being imported, else the upstream's when a rule covers the repository.
   */
  async manifest(scope: RepoScope, ref: Reference, access: ImportAccess, opts: PullOptions): Promise<PulledManifest> {
    let missing: unknown;
    try {
      const local = await this.registry.manifests.get(scope, ref, opts);
      // Most registries have no rule: their tag pulls read nothing more.
      if (ref.kind === 'digest' || !(await this.rules.any(scope.registryKey))) return local;
      return (await this.recheck(scope, ref.tag, local, access)) ?? local;
    } catch (e) {
      if (!isRegistryError(e) || (e.code !== Codes.ManifestUnknown && e.code !== Codes.NameUnknown)) throw e;
      missing = e;
    }
    const pending = this.pending.get(pendingKey(scope, ref));
    if (pending) return pending;
    const rule = await this.rules.ruleFor(scope.registryKey, scope.name);
    if (!rule) throw missing;
    return this.importManifest(scope, ref, rule, access);
  }

  /** A blob the registry lacks (the caller's stat said so); undefined when no rule covers the repository. */
  async blob(scope: RepoScope, digest: Digest, access: ImportAccess): Promise<PulledBlob | undefined> {
    const rule = await this.rules.ruleFor(scope.registryKey, scope.name);
    if (!rule) return undefined;
    const existing = await this.registry.ctx.meta.repositories.find(scope.registryKey, scope.name);
    await access.check(existing === undefined);
    const repo = existing ?? (await this.createRepository(scope));
    const fetch = await this.blobFetch(scope, repo, rule, digest);
    const body = fetch.reader();
    if (body) return { kind: 'streaming', size: fetch.size, body };
    if (fetch.failure) throw isRegistryError(fetch.failure) ? fetch.failure : new RegistryError(Codes.UpstreamLayerUnavailable, fetch.failure.message);
    return { kind: 'stored' };
  }

  /** Whether a rule covers the repository (its pulls may go upstream). */
  async covers(scope: RepoScope): Promise<boolean> {
    return (await this.rules.ruleFor(scope.registryKey, scope.name)) !== undefined;
  }

  private async recheck(scope: RepoScope, tag: Tag, local: PulledManifest, access: ImportAccess): Promise<PulledManifest | undefined> {
    const name = `${scope.name}:${tag}`;
    const doc = await this.docs.get(scope.registryKey, TAG_KIND, name);
    if (!doc) return undefined;
    const state = JSON.parse(doc.document) as TagState;
    const now = this.clock.now().getTime();
    if (now - state.checkedAt < this.opts.tagRecheckMs) return undefined;
    const rule = await this.rules.ruleFor(scope.registryKey, scope.name);
    if (!rule) return undefined;
    // Before the upstream is asked (with the rule's credentials): a caller who may not import is
    // served what is cached, as ECR serves it, and costs the upstream nothing. The tag stays due,
    // for the next caller who may import.
    if (!(await access.allows(false))) return undefined;
    try {
      const upstream = await this.upstreamDigest(scope, rule, tag);
      if (upstream === local.digest) {
        await this.markChecked(scope, tag, local.digest, now);
        return undefined;
      }
      return await this.importManifest(scope, { kind: 'tag', tag }, rule, access);
    } catch (e) {
      // The cached tag is served; the upstream is asked again a little later, not at every pull.
      this.registry.ctx.log.warn(
        { repository: scope.name, tag, upstream: rule.upstreamRegistryUrl, reason: e instanceof Error ? e.message : String(e) },
        'pull-through cache: the tag could not be checked upstream; serving the cached image',
      );
      await this.markChecked(scope, tag, local.digest, now - this.opts.tagRecheckMs + Math.min(RECHECK_RETRY_MS, this.opts.tagRecheckMs));
      return undefined;
    }
  }

  /** The digest the upstream's tag names now. */
  private async upstreamDigest(scope: RepoScope, rule: PullThroughRule, tag: Tag): Promise<Digest> {
    const limits = { timeoutMs: Math.min(RECHECK_TIMEOUT_MS, this.opts.upstreamTimeoutMs), maxManifestBytes: this.registry.ctx.limits.maxManifestBytes };
    return upstreamTagDigest(await this.client(scope, rule), upstreamName(rule, scope.name), tag, limits);
  }

  private async importManifest(scope: RepoScope, ref: Reference, rule: PullThroughRule, access: ImportAccess): Promise<PulledManifest> {
    // Before anything goes upstream: a caller who may not import costs the upstream nothing.
    const existing = await this.registry.ctx.meta.repositories.find(scope.registryKey, scope.name);
    await access.check(existing === undefined);
    const key = pendingKey(scope, ref);
    let fetching = this.manifestFetches.get(key);
    if (!fetching) {
      fetching = this.fetchManifest(scope, rule, ref).finally(() => this.manifestFetches.delete(key));
      this.manifestFetches.set(key, fetching);
    }
    const pulled = await fetching;
    const stored = existing && (await this.registry.ctx.meta.manifests.find(existing.id, pulled.digest));
    if (stored) {
      // Cached already (a child pulled before, a tag moved back): only the tag moves.
      if (ref.kind === 'tag') await this.store(scope, ref, pulled, rule);
      return stored;
    }
    if (!existing) await this.createRepository(scope);
    const parsed = parseManifest(pulled.payload, pulled.mediaType);
    if (parsed.blobs.length === 0) {
      await this.store(scope, ref, pulled, rule);
      return pulled;
    }
    this.importImage(scope, ref, pulled, parsed.blobs, rule);
    return pulled;
  }

  /** Imports an image's blobs, then stores its manifest; served from `pending` meanwhile. */
  private importImage(scope: RepoScope, ref: Reference, pulled: PulledManifest, blobs: Digest[], rule: PullThroughRule): void {
    const digestKey = pendingKey(scope, { kind: 'digest', digest: pulled.digest });
    const refKey = pendingKey(scope, ref);
    const log = (e: unknown) =>
      this.registry.ctx.log.warn(
        { repository: scope.name, digest: pulled.digest, upstream: rule.upstreamRegistryUrl, reason: e instanceof Error ? e.message : String(e) },
        'pull-through cache: the image could not be imported; nothing of it is visible',
      );
    const running = this.imports.get(digestKey);
    if (running) {
      // The image is being imported already (by digest, or under another tag): this tag follows it.
      if (refKey === digestKey || this.pending.has(refKey)) return;
      this.pending.set(refKey, pulled);
      running
        .then(() => this.store(scope, ref, pulled, rule))
        .catch(log)
        .finally(() => {
          if (this.pending.get(refKey) === pulled) this.pending.delete(refKey);
        });
      return;
    }
    const keys = [...new Set([refKey, digestKey])];
    for (const k of keys) this.pending.set(k, pulled);
    const run = async () => {
      const repo = await this.registry.ctx.meta.repositories.find(scope.registryKey, scope.name);
      if (!repo) throw new Error('the cache repository was deleted during the import');
      const queue = [...new Set(blobs)];
      const worker = async () => {
        for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
          if (await this.registry.ctx.meta.blobs.findInRepository(repo.id, d)) continue;
          await (await this.blobFetch(scope, repo, rule, d)).result;
        }
      };
      await Promise.all(Array.from({ length: Math.min(IMPORT_CONCURRENCY, queue.length) }, worker));
      await this.store(scope, ref, pulled, rule);
    };
    const imported = run();
    this.imports.set(digestKey, imported);
    imported.catch(log).finally(() => {
      if (this.imports.get(digestKey) === imported) this.imports.delete(digestKey);
      for (const k of keys) if (this.pending.get(k) === pulled) this.pending.delete(k);
    });
  }

  /** Stores a pulled manifest (with its tag) through the core, as the cache's import. */
  private async store(scope: RepoScope, ref: Reference, pulled: PulledManifest, rule: PullThroughRule): Promise<void> {
    const reference: Reference = ref.kind === 'tag' ? ref : { kind: 'digest', digest: pulled.digest };
    await this.registry.manifests.push(scope, reference, pulled.payload, pulled.mediaType, {
      createRepository: false,
      pushedBy: 'pull-through-cache',
      pullThrough: { ecrRepositoryPrefix: rule.ecrRepositoryPrefix, upstreamRegistryUrl: rule.upstreamRegistryUrl },
    });
    if (ref.kind === 'tag') await this.markChecked(scope, ref.tag, pulled.digest, this.clock.now().getTime());
  }

  private async markChecked(scope: RepoScope, tag: string, digest: Digest, checkedAt: number): Promise<void> {
    const state: TagState = { digest, checkedAt };
    await this.docs.replace({
      registryKey: scope.registryKey,
      kind: TAG_KIND,
      name: `${scope.name}:${tag}`,
      document: JSON.stringify(state),
      now: this.clock.now(),
    });
  }

  private async createRepository(scope: RepoScope): Promise<RepositoryRecord> {
    return this.registry.creationTemplates.createRepositoryFor(scope, 'PULL_THROUGH_CACHE');
  }

  private async fetchManifest(scope: RepoScope, rule: PullThroughRule, ref: Reference): Promise<PulledManifest> {
    const limits = { timeoutMs: this.opts.upstreamTimeoutMs, maxManifestBytes: this.registry.ctx.limits.maxManifestBytes };
    return upstreamManifest(await this.client(scope, rule), upstreamName(rule, scope.name), ref, limits);
  }

  /** The fetch of a blob in flight for the repository, or a new one. */
  private async blobFetch(scope: RepoScope, repo: RepositoryRecord, rule: PullThroughRule, digest: Digest): Promise<BlobFetch> {
    const account = accountOf(scope.registryKey);
    const key = `${account}\n${repo.id}\n${digest}`;
    const inFlight = this.fetches.get(key);
    if (inFlight) {
      // A committed fetch kept listed is worth joining only while its blob is still there: the
      // garbage collector may have taken it since (a grace period shorter than the listing),
      // and a caller joining it then would find nothing to read, and an import nothing to name.
      const joined = await inFlight.catch(() => undefined);
      if (!joined?.done || (await this.registry.ctx.meta.blobs.findInRepository(repo.id, digest))) return inFlight;
      if (this.fetches.get(key) === inFlight) this.fetches.delete(key);
      return this.blobFetch(scope, repo, rule, digest);
    }
    // The node's fetches are shared by every account: one account's rule pointing at a slow
    // upstream (its own, perhaps) may hold half of them, never all.
    const ended = this.running.tryTake(account);
    if (!ended) {
      const whose = this.running.taken() >= this.opts.maxFetches ? 'the pull-through cache' : "this account's pull-through cache";
      throw new RegistryError(Codes.TooManyRequests, `${whose} is fetching as many blobs as it may; retry shortly`, undefined, {
        retryAfterSeconds: 1,
      });
    }
    // A committed fetch stays listed a while: a caller that found the blob absent a moment
    // before it was recorded then joins it (done) instead of fetching the blob again.
    const forget = () => {
      ended();
      if (this.fetches.get(key) === started) this.fetches.delete(key);
    };
    const started = this.startFetch(scope, rule, digest, (committed) => {
      if (!committed) return forget();
      ended();
      setTimeout(forget, DONE_FETCH_KEPT_MS).unref();
    });
    this.fetches.set(key, started);
    started.catch(forget);
    return started;
  }

  private async startFetch(scope: RepoScope, rule: PullThroughRule, digest: Digest, settled: (committed: boolean) => void): Promise<BlobFetch> {
    const client = await this.client(scope, rule);
    const up = upstreamName(rule, scope.name);
    const maxBytes = await this.registry.quotas.value(scope.registryKey, 'maxLayerBytes');
    const res = await upstreamBlob(client, up, digest, { timeoutMs: this.opts.upstreamTimeoutMs, maxBytes });
    return BlobFetch.start({
      spoolDir: this.opts.spoolDir,
      body: res.body,
      size: res.size,
      maxBytes,
      idleMs: this.opts.upstreamTimeoutMs,
      upstream: client.base,
      commit: (body) => this.registry.uploads.monolithic(scope, digest, body),
      settled,
    }).catch((e: unknown) => {
      res.body.destroy();
      settled(false);
      throw e;
    });
  }

  private async client(scope: RepoScope, rule: PullThroughRule): Promise<UpstreamClient> {
    const key = `${registryKeyText(scope.registryKey)}\n${rule.ecrRepositoryPrefix}\n${rule.updatedAt}`;
    const now = Date.now();
    const cached = this.clients.get(key);
    if (cached && cached.until > now) return cached.client;
    let client: UpstreamClient;
    try {
      client = await this.rules.client(scope.registryKey, rule);
    } catch (e) {
      throw new RegistryError(
        Codes.UpstreamImageUnavailable,
        `the credentials of the pull-through cache rule '${rule.ecrRepositoryPrefix}' cannot be used: ${(e as Error).message}`,
      );
    }
    if (this.clients.size >= 100) this.clients.clear();
    this.clients.set(key, { client, until: now + CLIENT_TTL_MS });
    return client;
  }
}

function pendingKey(scope: RepoScope, ref: Reference): string {
  return `${registryKeyText(scope.registryKey)}\n${scope.name}\n${ref.kind === 'tag' ? ref.tag : ref.digest}`;
}
