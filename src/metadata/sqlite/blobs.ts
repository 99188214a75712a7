/** The blob index on SQLite: which verified blobs exist and which repositories they are linked into. */
import type { Digest } from '../../core/digest.js';
import type { BlobIndex, BlobRecord } from '../types.js';
import type { Db } from './open.js';

interface Row {
  digest: string;
  size: number;
  created_at: number;
}

const toBlob = (r: Row): BlobRecord => ({ digest: r.digest as Digest, size: r.size, createdAt: new Date(r.created_at) });

export function createSqliteBlobIndex(db: Db): BlobIndex {
  const findStmt = db.prepare<[string], Row>('SELECT digest, size, created_at FROM blobs WHERE digest = ?');
  const findInRepoStmt = db.prepare<[number, string], Row>(
    `SELECT b.digest, b.size, b.created_at FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
     WHERE rb.repository_id = ? AND rb.digest = ?`,
  );
  const insertBlob = db.prepare('INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
  const insertLink = db.prepare(
    'INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const deleteLink = db.prepare('DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?');

  const record = db.transaction((repositoryId: number, digest: string, size: number, now: number) => {
    insertBlob.run(digest, size, now);
    insertLink.run(repositoryId, digest, now);
  });
  const link = db.transaction((repositoryId: number, digest: string, now: number): Row | undefined => {
    const blob = findStmt.get(digest);
    if (blob) insertLink.run(repositoryId, digest, now);
    return blob;
  });

  return {
    async find(digest) {
      const r = findStmt.get(digest);
      return r && toBlob(r);
    },
    async findInRepository(repositoryId, digest) {
      const r = findInRepoStmt.get(repositoryId, digest);
      return r && toBlob(r);
    },
    async record(repositoryId, blob, now) {
      record.immediate(repositoryId, blob.digest, blob.size, now.getTime());
    },
    async link(repositoryId, digest, now) {
      const r = link.immediate(repositoryId, digest, now.getTime());
      return r && toBlob(r);
    },
    async unlink(repositoryId, digest) {
      return deleteLink.run(repositoryId, digest).changes > 0;
    },
  };
}
