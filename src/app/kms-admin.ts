/**
 * The KMS keys of a data directory (or of the configured PostgreSQL), for `berth admin
 * create-kms-key` and its siblings without a running server. Running servers read keys through
 * a cache: a state changed here reaches them within their cache's time to live.
 */
import { resolve } from 'node:path';
import { systemClock } from '../core/clock.js';
import type { Config } from '../config/schema.js';
import { KmsKeys } from '../kms/kms-keys.js';
import { openMetadata } from './open-stores.js';
import { loadServerKey } from './server-key.js';

export async function openKmsAdmin(config: Config): Promise<{ kms: KmsKeys; region: string; close(): Promise<void> }> {
  const dataDir = resolve(config.dataDir);
  const serverKey = loadServerKey({ dataDir, ...(config.serverKey !== undefined && { configured: config.serverKey }) });
  const meta = await openMetadata(config);
  // One command, one answer: nothing to cache.
  const kms = new KmsKeys(meta.kmsKeys, serverKey, systemClock, { ttlMs: 0 });
  return { kms, region: config.region, close: () => meta.close() };
}
