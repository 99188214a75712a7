/**
 * Preloaded into a Berth process (`--import`) by runtime.test.ts: when the process exits, writes
 * the CommonJS modules it loaded (require.cache, which holds what ES modules imported from CommonJS
 * packages too: the AWS SDK's clients, better-sqlite3) to the file BERTH_TEST_MODULE_LOG names, so
 * a test sees what a run loaded without changing Berth for it. (module.registerHooks would see ES
 * modules as well, but crashed Node 24.21 at random while the SDK loaded.)
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const log = process.env.BERTH_TEST_MODULE_LOG;
// Workers inherit --import; their exit must not overwrite the main thread's list.
if (log !== undefined && isMainThread) {
  const { cache } = createRequire(import.meta.url);
  process.on('exit', () => writeFileSync(log, Object.keys(cache).join('\n')));
}
