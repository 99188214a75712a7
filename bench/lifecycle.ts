/**
 * Lifecycle evaluation at scale: one repository of 100,000 images (tagged and untagged, pushed
 * over a year, some pulled) under a three-rule policy, evaluated as the periodic task does it —
 * every image read from the metadata store, then the policy applied — as a dry run. The images
 * are written straight into a fresh SQLite file in one transaction: this measures evaluation,
 * not pushing. No reference registry has lifecycle policies, so this figure stands alone
 * (target: under 2 s).
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openRegistry } from '../src/app/app.js';
import { loadConfig } from '../src/config/load.js';
import { registryKey } from '../src/core/registry-key.js';
import { LifecycleEngine } from '../src/lifecycle/engine.js';

const DAY = 86_400_000;
const POLICY = JSON.stringify({
  rules: [
    {
      rulePriority: 1,
      description: 'keep releases',
      selection: { tagStatus: 'tagged', tagPrefixList: ['release-'], countType: 'imageCountMoreThan', countNumber: 9999 },
      action: { type: 'expire' },
    },
    {
      rulePriority: 2,
      description: 'feature builds for 30 days',
      selection: { tagStatus: 'tagged', tagPatternList: ['feature-*-build*'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 30 },
      action: { type: 'expire' },
    },
    {
      rulePriority: 3,
      description: 'untagged images unpulled for 14 days',
      selection: { tagStatus: 'untagged', countType: 'sinceImagePulled', countUnit: 'days', countNumber: 14 },
      action: { type: 'expire' },
    },
  ],
});

export interface LifecycleBenchResult {
  images: number;
  seconds: number[];
  expiring: number;
}

export async function benchLifecycle(workDir: string, images: number, rounds: number): Promise<LifecycleBenchResult> {
  const dataDir = await mkdtemp(join(workDir, 'lifecycle-'));
  try {
    const config = loadConfig({ flags: { dataDir, logLevel: 'warn' } });
    const registry = await openRegistry(config);
    const scope = { registryKey: registryKey(config.defaultAccountId, config.region), name: 'bench/lifecycle' };
    const repo = await registry.repositories.create(scope);
    await registry.lifecyclePolicies.put(scope, POLICY);
    seed(join(dataDir, 'metadata.db'), repo.id, images);
    const engine = new LifecycleEngine(registry);
    const seconds: number[] = [];
    let expiring = 0;
    for (let i = 0; i < rounds; i++) {
      const t = performance.now();
      const report = await engine.run(scope, { dryRun: true });
      seconds.push((performance.now() - t) / 1000);
      expiring = report.expired.length;
    }
    await registry.close();
    return { images, seconds, expiring };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

function seed(path: string, repositoryId: number, n: number): void {
  const db = new Database(path);
  const now = Date.now();
  const insertManifest = db.prepare(
    'INSERT INTO manifests (repository_id, digest, media_type, size, payload, pushed_at, last_pulled_at) VALUES (?, ?, ?, 2, ?, ?, ?)',
  );
  const insertTag = db.prepare('INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?)');
  const payload = Buffer.from('{}');
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const digest = 'sha256:' + createHash('sha256').update(String(i)).digest('hex');
      const pushedAt = now - Math.floor((((i * 7919) % n) / n) * 365 * DAY);
      const pulledAt = i % 3 === 0 ? pushedAt + ((i * 31) % 30) * DAY : null;
      insertManifest.run(repositoryId, digest, 'application/vnd.oci.image.manifest.v1+json', payload, pushedAt, pulledAt);
      const kind = i % 10;
      if (kind < 2) insertTag.run(repositoryId, `release-${i}`, digest, pushedAt);
      else if (kind < 5) insertTag.run(repositoryId, `feature-${i % 97}-build${i}`, digest, pushedAt);
      else if (kind < 6) insertTag.run(repositoryId, `sha-${i.toString(16)}`, digest, pushedAt);
      // the rest are untagged
    }
  })();
  db.close();
}
