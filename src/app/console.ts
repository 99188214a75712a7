/** Builds the web console's parts (files, sessions, sign-in throttle) from the configuration. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConsoleSessions } from '../auth/console-sessions.js';
import type { IdentityAdmin } from '../auth/identity-admin.js';
import type { SignInThrottle } from '../auth/sign-in-throttle.js';
import type { Config } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { Authenticator } from '../http/authn.js';
import type { ConsoleOptions } from '../http/console/door.js';
import { sessionBasisCheck } from '../http/console/session-basis.js';
import { ConsoleFiles } from '../http/console/static-files.js';
import type { MetadataStore } from '../metadata/types.js';

/** dist/src/app → the package root, where the console is built to dist/console. */
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function createConsole(
  config: Config,
  deps: { meta: MetadataStore; clock: Clock; serverKey: Buffer; authenticator: Authenticator; identities: IdentityAdmin; throttle: SignInThrottle },
): ConsoleOptions {
  const { meta, clock } = deps;
  return {
    files: new ConsoleFiles(resolve(config.consoleDir ?? join(PACKAGE_ROOT, 'dist', 'console')), clock),
    sessions: new ConsoleSessions(
      meta.consoleSessions,
      clock,
      deps.serverKey,
      { ttlMs: config.consoleSessionHours * 3_600_000, idleMs: config.consoleIdleMinutes * 60_000 },
      sessionBasisCheck(deps.authenticator, deps.identities),
    ),
    throttle: deps.throttle,
    dailyUsage: (from, to, accountId) => meta.usage.daily(from, to, 0, accountId),
    clock,
  };
}
