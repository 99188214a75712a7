/**
 * The test clients' credential store, keyed by registry origin, as docker's config.json is:
 * startBerth logs in with the admin key (GetAuthorizationToken) and records the Basic header
 * here; the raw HTTP helpers and skopeo present it for requests to that registry.
 */
const logins = new Map<string, string>();

export function rememberLogin(url: string, authorization: string): void {
  logins.set(new URL(url).origin, authorization);
}

export function forgetLogin(url: string): void {
  logins.delete(new URL(url).origin);
}

/** The Authorization header for a URL's registry, if logged in. */
export function authorizationFor(url: string): string | undefined {
  return logins.get(new URL(url).origin);
}

/** Docker/containers auth.json content for every remembered login. */
export function authFileContent(): string {
  const auths: Record<string, { auth: string }> = {};
  for (const [origin, header] of logins) auths[new URL(origin).host] = { auth: header.replace(/^Basic /, '') };
  return JSON.stringify({ auths });
}
