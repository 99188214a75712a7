/** Holds the in-memory driver to the blob-store contract. */
import { runBlobStoreSuite } from '../contract-suite.js';
import { createMemoryBlobStore } from './memory-blob-store.js';

runBlobStoreSuite({
  name: 'memory',
  create: async () => createMemoryBlobStore(),
  skip: [{ reason: 'memory has no URL to presign', tests: ['presignedUrl gives an http(s) URL for a stored blob'] }],
});
