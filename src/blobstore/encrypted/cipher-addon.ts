/**
 * Loading one of the optional cipher addons (native/gcm-open.cc, native/gcm-seal.cc): both are
 * turned off together by BERTH_NATIVE_CIPHER=off, and each is used only once it loads and passes
 * its own self-check against Node's crypto; otherwise the reason is kept for the server to log.
 */
import { createRequire } from 'node:module';

export function loadCipherAddon<T>(
  path: string,
  env: NodeJS.ProcessEnv,
  selfCheck: (addon: T) => string | undefined,
): { addon: T | undefined; why: string | undefined } {
  if (env.BERTH_NATIVE_CIPHER === 'off') return { addon: undefined, why: 'turned off (BERTH_NATIVE_CIPHER=off)' };
  let addon: T;
  try {
    addon = createRequire(import.meta.url)(path) as T;
  } catch (e) {
    return { addon: undefined, why: `${path} did not load (${(e as Error).message.split('\n')[0]}); \`npm run build\` builds it with a C++ compiler` };
  }
  const wrong = selfCheck(addon);
  return wrong ? { addon: undefined, why: `${path} failed its self-check: ${wrong}` } : { addon, why: undefined };
}
