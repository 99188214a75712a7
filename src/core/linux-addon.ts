/**
 * Loading an optional native addon built for Linux (native/*.cc, by scripts/build-native.mjs):
 * the addon, or why it cannot be used, kept for the server to log at start (app/native-addons.ts).
 * Each has a Node-only fallback, so a missing one is never an error.
 */
import { createRequire } from 'node:module';

export interface LoadedAddon<T> {
  addon: T | undefined;
  why: string | undefined;
}

export function loadLinuxAddon<T>(path: string): LoadedAddon<T> {
  if (process.platform !== 'linux') return { addon: undefined, why: 'only built for Linux' };
  try {
    return { addon: createRequire(import.meta.url)(path) as T, why: undefined };
  } catch (e) {
    return { addon: undefined, why: `${path} did not load (${(e as Error).message.split('\n')[0]})` };
  }
}

/** The addon at `path`, loaded on first use and kept (module state: once per thread). */
export function lazyLinuxAddon<T>(path: string): () => LoadedAddon<T> {
  let loaded: LoadedAddon<T> | undefined;
  return () => (loaded ??= loadLinuxAddon<T>(path));
}
