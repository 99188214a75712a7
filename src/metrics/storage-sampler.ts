/**
 * Takes one storage sample per repository (and per registry, deduplicated) into today's usage
 * row; `berth usage` averages a day's samples and turns days into GB-months. A repository that
 * held bytes at its last sample and is gone now gets one zero sample, so its storage is not
 * carried forward into days it no longer exists.
 */
import { registryKeyText, type RegistryKey } from '../core/registry-key.js';
import { dayOf, type StorageSample, type UsageStore } from '../metadata/usage.js';

const keyOf = (s: { registryKey: RegistryKey; repository: string }) => `${registryKeyText(s.registryKey)}\n${s.repository}`;

/** Samples every repository now; returns how many samples were written. */
export async function sampleStorage(usage: UsageStore, now: Date): Promise<number> {
  const day = dayOf(now);
  const current = await usage.currentStorage();
  const present = new Set(current.map(keyOf));
  const gone: StorageSample[] = (await usage.lastNonZeroSamples(day)).filter((k) => !present.has(keyOf(k))).map((k) => ({ ...k, bytes: 0 }));
  const samples = [...current, ...gone];
  await usage.addStorageSamples(day, samples);
  return samples.length;
}
