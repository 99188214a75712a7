/** Holds the in-memory driver to the blob-store contract. */
import { runBlobStoreSuite } from '../contract-suite.js';
import { createMemoryBlobStore, type MemoryBlobStore } from './memory-blob-store.js';

runBlobStoreSuite({
  name: 'memory',
  create: async () => createMemoryBlobStore(),
  contents: async (raw) => {
    const { blobs, uploads } = (raw as MemoryBlobStore).contents();
    return [...blobs.map((d) => `blob ${d}`), ...uploads.map((u) => `upload ${u}`)];
  },
  skip: [
    { reason: 'memory has no URL to presign', tests: ['presignedUrl gives an http(s) URL for a stored blob'] },
    { reason: 'memory streams its buffers; it offers no positional handle', tests: ['open reads a blob at positions and refuses a missing one'] },
  ],
});
