/**
 * The scan job: inventory an image's layers (read as streams from the blob store and parsed on
 * a worker thread of the scan pool, or reused from an earlier scan of the same digest), match
 * the packages against the advisories Berth holds, and record ECR's findings. Registered on the job worker for SCAN_JOB; the same code
 * re-evaluates stored inventories after an advisory import (continuous scanning).
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Digest } from '../core/digest.js';
import { Codes, RegistryError } from '../core/errors.js';
import { isIndexMediaType } from '../core/media-types.js';
import { parseManifest } from '../registry/manifest-parse.js';
import type { JobRecord, RepositoryRecord } from '../metadata/types.js';
import type { Registry } from '../registry/registry.js';
import { scanJobTarget, type BasicFinding, type ScanJobPayload, type StoredFindings } from '../registry/scans.js';
import type { AdvisoryCatalog } from './catalog.js';
import type { Finding } from './advisories/advisory-index.js';
import type { Inventory } from './inventory/types.js';
import { isScanError, UnsupportedImageError } from './layers/errors.js';
import type { LayerInventory } from './pool/scan-pool.js';
import { MAX_ATTEMPTS } from '../jobs/worker.js';
import { registryKeyText } from '../core/registry-key.js';

const MAX_FINDINGS = 10_000;
const MAX_LAYERS = 256;

export interface MatchedFindings {
  stored: StoredFindings;
  /** Identifies what was found, whatever the timestamps: unchanged findings are not rewritten. */
  fingerprint: string;
}

/** The job an advisory import enqueues: re-match stored inventories (continuous scanning). */
export const REEVALUATE_JOB = 'reevaluate-inventories';

export class Scanner {
  constructor(
    private readonly registry: Registry,
    private readonly catalog: AdvisoryCatalog,
    private readonly layers: LayerInventory,
  ) {}

  /** The SCAN_JOB handler. Scan problems end the scan as FAILED/UNSUPPORTED_IMAGE; faults retry. */
  async run(job: JobRecord, signal: AbortSignal): Promise<void> {
    const p = job.payload as ScanJobPayload;
    const { scope } = scanJobTarget(p);
    const { meta, clock, log } = this.registry.ctx;
    const repo = await meta.repositories.find(scope.registryKey, scope.name);
    const manifest = repo && (await meta.manifests.find(repo.id, p.digest));
    if (!repo || !manifest) return; // deleted since: nothing left to report on
    const finish = (status: 'COMPLETE' | 'FAILED' | 'UNSUPPORTED_IMAGE', description: string, found?: MatchedFindings) =>
      this.registry.scans.finish(
        scope,
        repo.id,
        p.digest,
        {
          status,
          description,
          completedAt: clock.now(),
          ...(this.catalog.updatedAt && { sourceUpdatedAt: this.catalog.updatedAt }),
          ...(found && { findings: JSON.stringify(found.stored), fingerprint: found.fingerprint }),
        },
        found?.stored.findingSeverityCounts,
      );
    try {
      const inventory = await this.inventory(repo, p.digest, manifest.payload, manifest.mediaType, signal);
      const enhanced = (await this.registry.config.scanning(scope.registryKey)).scanType === 'ENHANCED';
      await finish('COMPLETE', 'The scan was completed successfully.', (await this.findingsOf(inventory, enhanced))!);
      log.info({ repository: p.repository, digest: p.digest, packages: inventory.packages.length }, 'image scanned');
    } catch (err) {
      // Cut short by shutdown: the worker hands the job back to run again.
      if (signal.aborted) throw err;
      if (isScanError(err)) {
        await finish(err.status, err.message.slice(0, 1000));
        log.warn({ repository: p.repository, digest: p.digest, reason: err.reason }, 'image scan did not complete');
        return;
      }
      if (err instanceof RegistryError && err.code === Codes.KmsException) {
        // Retrying will not help until someone enables the key; StartImageScan can then.
        await finish('FAILED', `The image's layers could not be read: ${err.message}`.slice(0, 1000));
        return;
      }
      if (job.attempts >= MAX_ATTEMPTS) await finish('FAILED', 'The scan failed; it may be retried with StartImageScan.');
      throw err;
    }
  }

  /**
   * Continuous scanning: after new advisories, re-match every completed scan whose repository
   * is under a CONTINUOUS_SCAN rule, from its stored inventory (no layer is read again).
   */
  async reevaluate(signal: AbortSignal): Promise<{ inventories: number; updated: number }> {
    const { meta, clock } = this.registry.ctx;
    const frequency = new Map<string, boolean>();
    let inventories = 0;
    let updated = 0;
    for (let after = ''; ; ) {
      const page = await meta.scans.completed(after, 500);
      // One write per page, not per image: each commit is an fsync.
      const results: Parameters<typeof meta.scans.finishMany>[0] = [];
      for (const s of page) {
        signal.throwIfAborted();
        const key = `${registryKeyText(s.registryKey)}\n${s.repository}`;
        let continuous = frequency.get(key);
        if (continuous === undefined) {
          const repo = await meta.repositories.find(s.registryKey, s.repository);
          continuous =
            repo !== undefined &&
            (await this.registry.config.scanningFor(s.registryKey, s.repository, repo.settings.scanOnPush)).scanFrequency === 'CONTINUOUS_SCAN';
          frequency.set(key, continuous);
        }
        const stored = continuous ? await meta.scans.inventory(s.digest) : undefined;
        if (stored === undefined) continue;
        inventories++;
        const found = await this.findingsOf(JSON.parse(stored) as Inventory, true, s.fingerprint);
        if (!found) continue; // same findings: nothing to rewrite
        results.push({
          repositoryId: s.repositoryId,
          digest: s.digest,
          result: {
            status: 'COMPLETE',
            description: 'The scan was completed successfully.',
            completedAt: clock.now(),
            ...(this.catalog.updatedAt && { sourceUpdatedAt: this.catalog.updatedAt }),
            findings: JSON.stringify(found.stored),
            fingerprint: found.fingerprint,
          },
        });
      }
      await meta.scans.finishMany(results);
      updated += results.length;
      if (page.length < 500) break;
      after = page[page.length - 1]!.key;
    }
    return { inventories, updated };
  }

  /** Findings for an inventory against the current advisories, in ECR's stored shape; undefined when their fingerprint is `unlessFingerprint`. */
  async findingsOf(inventory: Inventory, enhanced: boolean, unlessFingerprint?: string): Promise<MatchedFindings | undefined> {
    const index = await this.catalog.index();
    const found = index.match(inventory.packages).slice(0, MAX_FINDINGS);
    const hash = createHash('sha256').update(enhanced ? 'enhanced' : 'basic');
    for (const f of found) hash.update(`\n${f.advisoryId}\t${f.package}\t${f.version}\t${f.fixedIn ?? ''}\t${f.severity}`);
    const fingerprint = hash.digest('hex');
    // Unchanged: spare building (and the caller writing) the findings again.
    if (fingerprint === unlessFingerprint) return undefined;
    const counts: Record<string, number> = {};
    for (const f of found) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
    const stored: StoredFindings = { findingSeverityCounts: counts, findings: found.map(basicFinding) };
    if (enhanced) stored.enhancedFindings = found.map((f) => enhancedFinding(f, this.registry.ctx.clock.now()));
    return { stored, fingerprint };
  }

  private async inventory(repo: RepositoryRecord, digest: Digest, payload: Buffer, mediaType: string, signal: AbortSignal): Promise<Inventory> {
    const { meta, clock } = this.registry.ctx;
    // Cached by manifest digest, which fixes the layers read (those an earlier Berth read from
    // non-distributable layers' digests went with migration 37).
    const cached = await meta.scans.inventory(digest);
    if (cached !== undefined) return JSON.parse(cached) as Inventory;
    if (isIndexMediaType(mediaType)) throw new UnsupportedImageError('an image index has no layers of its own; scan its images');
    // The layers the repository holds: a non-distributable layer's digest was never uploaded nor
    // proven, and may be another account's blob (stored once for all), so it is never read.
    const parsed = parseManifest(payload, mediaType, { typeDeclared: true });
    if (parsed.layers.length > MAX_LAYERS) throw new UnsupportedImageError(`more than ${MAX_LAYERS} layers`);
    const blobs = await this.registry.ctx.vaults.of(repo.settings);
    async function* streams(): AsyncGenerator<Readable> {
      for (const d of parsed.layers) yield await blobs.read(d, undefined, signal);
    }
    const inventory = await this.layers.inventory(streams(), signal);
    await meta.scans.putInventory(digest, JSON.stringify(inventory), clock.now());
    return inventory;
  }
}

function basicFinding(f: Finding): BasicFinding {
  const attributes = [
    { key: 'package_name', value: f.package },
    { key: 'package_version', value: f.version },
  ];
  if (f.cvss) {
    const prefix = f.cvss.version.startsWith('2') ? 'CVSS2' : f.cvss.version.startsWith('4') ? 'CVSS4' : 'CVSS3';
    attributes.push({ key: `${prefix}_VECTOR`, value: f.cvss.vector.slice(0, 256) });
    if (f.cvss.score !== undefined) attributes.push({ key: `${prefix}_SCORE`, value: String(f.cvss.score) });
  }
  return {
    name: f.aliases.find((a) => a.startsWith('CVE-')) ?? f.advisoryId,
    ...(f.summary && { description: f.summary }),
    uri: f.uri,
    severity: f.severity,
    attributes,
  };
}

function enhancedFinding(f: Finding, now: Date): Record<string, unknown> {
  const vulnerabilityId = f.aliases.find((a) => a.startsWith('CVE-')) ?? f.advisoryId;
  return {
    findingArn: `arn:aws:inspector2:::finding/${encodeURIComponent(f.advisoryId)}/${encodeURIComponent(f.package)}`,
    title: `${vulnerabilityId} - ${f.package}`,
    description: f.summary,
    severity: f.severity,
    status: 'ACTIVE',
    type: 'PACKAGE_VULNERABILITY',
    ...(f.cvss?.score !== undefined && { score: f.cvss.score }),
    // Stored as JSON, served as is: epoch seconds, as ECR's wire format has them.
    firstObservedAt: now.getTime() / 1000,
    lastObservedAt: now.getTime() / 1000,
    updatedAt: now.getTime() / 1000,
    fixAvailable: f.fixedIn !== undefined ? 'YES' : 'NO',
    packageVulnerabilityDetails: {
      vulnerabilityId,
      source: f.advisoryId.split('-')[0],
      sourceUrl: f.uri,
      ...(f.cvss?.score !== undefined && {
        cvss: [{ baseScore: f.cvss.score, scoringVector: f.cvss.vector, source: f.advisoryId.split('-')[0], version: f.cvss.version }],
      }),
      vulnerablePackages: [{ name: f.package, version: f.version, packageManager: f.ecosystem, ...(f.fixedIn !== undefined && { fixedInVersion: f.fixedIn }) }],
      referenceUrls: [f.uri],
      relatedVulnerabilities: f.aliases,
    },
    ...(f.fixedIn !== undefined && { remediation: { recommendation: { text: `Upgrade ${f.package} to ${f.fixedIn} or later.` } } }),
  };
}
