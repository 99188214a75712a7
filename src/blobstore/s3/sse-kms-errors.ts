/**
 * With SSE-KMS the S3 service checks the key on every write and read, so a key that does not
 * exist, is disabled or may not be used surfaces as an S3 error. Those are the repository
 * owner's to fix, not faults of Berth: they become ECR's KmsException (403 DENIED on /v2)
 * instead of a 500.
 */
import { Codes, RegistryError } from '../../core/errors.js';
import type { BlobStore, BlobWriter } from '../blob-store.js';

/** AWS names KMS failures `KMS.*`; Ceph RGW answers InvalidAccessKeyId naming the kms-keyid. */
function isKmsRefusal(e: unknown): e is Error {
  if (!(e instanceof Error)) return false;
  return e.name.startsWith('KMS.') || ((e.name === 'InvalidAccessKeyId' || e.name === 'AccessDenied') && /kms/i.test(e.message));
}

async function translated<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (isKmsRefusal(e)) throw new RegistryError(Codes.KmsException, `the object store's KMS refused the repository's key: ${e.message.slice(0, 300)}`);
    throw e;
  }
}

function writerWithKmsErrors(w: BlobWriter): BlobWriter {
  return {
    get uploadId() {
      return w.uploadId;
    },
    get size() {
      return w.size;
    },
    append: (source, signal) => translated(w.append(source, signal)),
    commit: (digest) => translated(w.commit(digest)),
    cancel: () => w.cancel(),
    close: () => w.close(),
  };
}

export function withKmsErrors(store: BlobStore): BlobStore {
  return {
    ...store,
    name: store.name,
    stat: (digest) => translated(store.stat(digest)),
    read: (digest, range, signal) => translated(store.read(digest, range, signal)),
    writer: async (id, opts) => writerWithKmsErrors(await translated(store.writer(id, opts))),
    readUpload: (id, signal) => translated(store.readUpload(id, signal)),
  };
}
