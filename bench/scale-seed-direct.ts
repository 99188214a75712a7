/**
 * BENCH_SEED=direct: seeds the listings at scale by writing each registry's own storage instead of
 * pushing through the API, for a loaded machine where 100,000 manifest PUTs take too long. Berth:
 * rows in its SQLite metadata (a manifest, its config reference and a tag per image; a repository
 * row, its config blob link and one tagged manifest per repository), written in large
 * transactions beside the running server (WAL). The reference: the files CNCF distribution
 * writes on a manifest PUT (the manifest blob, its revision link, the tag's current and index
 * links; a repository's config layer link). The first image of each kind is pushed through the
 * API, so the rows and files copy what a real push wrote. Listings only read what this writes.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Server } from './servers.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const BATCH = 5000;

export interface SeedImage {
  repo: string;
  tag: string;
  /** The manifest's bytes, as the API would have received them. */
  body: string;
}

const digestOf = (body: string) => `sha256:${createHash('sha256').update(body).digest('hex')}`;

/** Writes images into Berth's metadata; repositories are created as needed, like a push does. */
export function seedBerth(server: Server, config: string, images: SeedImage[]): void {
  const db = new Database(join(server.dataDir, 'metadata.db'));
  db.pragma('busy_timeout = 30000');
  try {
    const keyText = (db.prepare('SELECT registry_id FROM repositories LIMIT 1').get() as { registry_id: string }).registry_id;
    const findRepo = db.prepare<[string, string], { id: number }>('SELECT id FROM repositories WHERE registry_id = ? AND name = ?');
    const insertRepo = db.prepare('INSERT INTO repositories (registry_id, name, created_at) VALUES (?, ?, ?)');
    const linkBlob = db.prepare('INSERT OR IGNORE INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)');
    const insertManifest = db.prepare('INSERT INTO manifests (repository_id, digest, media_type, size, payload, pushed_at) VALUES (?, ?, ?, ?, ?, ?)');
    const insertRef = db.prepare("INSERT INTO manifest_references (repository_id, parent_digest, child_digest, kind) VALUES (?, ?, ?, 'blob')");
    const insertTag = db.prepare('INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?)');
    const ids = new Map<string, number>();
    const write = db.transaction((batch: SeedImage[]) => {
      const now = Date.now();
      for (const img of batch) {
        let id = ids.get(img.repo) ?? findRepo.get(keyText, img.repo)?.id;
        if (id === undefined) id = Number(insertRepo.run(keyText, img.repo, now).lastInsertRowid);
        ids.set(img.repo, id);
        linkBlob.run(id, config, now);
        const digest = digestOf(img.body);
        insertManifest.run(id, digest, OCI, Buffer.byteLength(img.body), Buffer.from(img.body), now);
        insertRef.run(id, digest, config);
        insertTag.run(id, img.tag, digest, now);
      }
    });
    // IMMEDIATE: a deferred transaction's first write fails at once (SQLITE_BUSY_SNAPSHOT, no busy wait)
    // when the running server committed after its first read.
    for (let i = 0; i < images.length; i += BATCH) write.immediate(images.slice(i, i + BATCH));
  } finally {
    db.close();
  }
}

/** Writes images into the reference's file-system storage, as its manifest PUT lays them out. */
export async function seedReference(server: Server, config: string, images: SeedImage[]): Promise<void> {
  const root = join(server.dataDir, 'docker/registry/v2');
  const file = async (path: string, content: string) => {
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, content);
  };
  const hex = (d: string) => d.slice('sha256:'.length);
  let next = 0;
  // Many in flight: the cost is file-system round trips, which the thread pool overlaps.
  const lane = async () => {
    while (next < images.length) {
      const img = images[next++]!;
      const digest = digestOf(img.body);
      const h = hex(digest);
      const repo = join(root, 'repositories', img.repo);
      await Promise.all([
        file(join(root, 'blobs/sha256', h.slice(0, 2), h, 'data'), img.body),
        file(join(repo, '_layers/sha256', hex(config), 'link'), config),
        file(join(repo, '_manifests/revisions/sha256', h, 'link'), digest),
        file(join(repo, '_manifests/tags', img.tag, 'current/link'), digest),
        file(join(repo, '_manifests/tags', img.tag, 'index/sha256', h, 'link'), digest),
      ]);
    }
  };
  await Promise.all(Array.from({ length: 32 }, lane));
}
