/**
 * What the tests of the native GCMs (native-gcm-avx2.test.ts, native-seal-avx2.test.ts) share:
 * an addon loaded as built, the GCMs to run, the lengths to try and random cuts of a text.
 */
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Where `npm ci` builds the addon `name` (native/<name>.cc). */
export const addonPath = (name: string): string => fileURLToPath(new URL(`../../../native/${name}.node`, import.meta.url));

/**
 * The addon as built, undefined when it was not built. Loaded without native-gcm.ts's and
 * native-seal.ts's self-checks: a path that fails one must fail the tests too, not turn the addon
 * off and the tests into skips.
 */
export function builtAddon<T>(name: string): T | undefined {
  const path = addonPath(name);
  return existsSync(path) ? (createRequire(import.meta.url)(path) as T) : undefined;
}

/** The GCMs an addon runs: its own AVX2 one where the CPU has it, and always OpenSSL's. */
export function gcmPaths(avx2: boolean | undefined): Array<[string, boolean]> {
  return avx2
    ? [
        ['AVX2 GCM', true],
        ['OpenSSL GCM', false],
      ]
    : [['OpenSSL GCM', false]];
}

const around = (n: number) => [n - 1, n, n + 1];

/** Every length 0..300, and around the 16-, 128- and 256-byte and 16 and 64 KiB boundaries. */
export const GCM_LENGTHS = [
  ...Array.from({ length: 301 }, (_, i) => i),
  ...[512, 1024, 2048, 4096, 16_384, 32_768, 65_536, 131_072].flatMap(around),
  ...[16_384 + 7, 65_536 + 129, 200_003],
];

/** Random cuts of [0, n): mostly single bytes for short texts, else a mix of sizes. */
export function randomCuts(n: number): number[] {
  const cuts: number[] = [];
  for (let at = 0; at < n; ) {
    const kind = randomInt(4);
    const step = Math.min(n - at, kind === 0 ? 1 : kind === 1 ? 1 + randomInt(33) : 1 + randomInt(n - at));
    cuts.push(step);
    at += step;
  }
  return cuts;
}
