/**
 * fetch held to a ReachPolicy: a URL naming a refused address is refused before anything goes on
 * the wire, and a name is judged on the addresses it resolves to when the connection is made (the
 * `lookup` of an undici Agent used as the dispatcher). Each request is checked on its own, so a
 * caller following redirects by hand (redirect: 'manual') has every hop judged.
 *
 * The Agent is the class of Node's own bundled undici (reached through undici's global-dispatcher
 * symbol, its documented cross-copy contract) so that no second copy of undici is needed.
 */
import type { ReachPolicy } from './outbound-reach.js';

export type Fetch = (url: URL | string, init?: RequestInit) => Promise<Response>;

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');
let agentClass: Promise<new (opts: object) => object> | undefined;

/** The Agent class of Node's fetch; the global dispatcher is set by the first fetch. */
function bundledAgent(): Promise<new (opts: object) => object> {
  agentClass ??= (async () => {
    const current = () => (globalThis as Record<symbol, { constructor: new (opts: object) => object } | undefined>)[GLOBAL_DISPATCHER];
    if (!current()) await fetch('data:,').catch(() => undefined);
    const d = current();
    if (!d) throw new Error("node's fetch has no global dispatcher to take its Agent from");
    return d.constructor;
  })();
  return agentClass;
}

export function guardedFetch(policy: ReachPolicy): Fetch {
  let dispatcher: Promise<object> | undefined;
  return async (url, init) => {
    const u = new URL(url);
    const why = policy.hostRefusal(u.hostname);
    // Shaped as fetch's own network failures are: callers already read e.cause.
    if (why) throw new TypeError('fetch failed', { cause: policy.refused(u.hostname, u.hostname, why) });
    dispatcher ??= bundledAgent().then((Agent) => new Agent({ connect: { lookup: policy.lookup() } }));
    return fetch(u, { ...init, dispatcher: await dispatcher } as RequestInit);
  };
}
