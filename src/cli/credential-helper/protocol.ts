/**
 * The two credential-helper protocols, as pure functions over their messages: docker's
 * (`docker-credential-<name> get|store|erase|list`, the server URL on stdin, a JSON answer) and
 * the kubelet's image credential provider (a CredentialProviderRequest on stdin, a
 * CredentialProviderResponse on stdout).
 */

/** What a registry login is, whichever protocol asked. */
export interface Login {
  username: string;
  password: string;
  expiresAt: Date;
}

export class HelperError extends Error {
  override name = 'HelperError';
}

const MAX_SERVER_URL = 2048;

/**
 * The host[:port] a docker server URL names. Docker passes `host[:port]`, podman and skopeo the
 * same, older clients `https://host/v1/`: the host is what the credentials are for.
 */
export function hostOfServerUrl(serverUrl: string): string {
  const text = serverUrl.trim();
  if (text === '' || text.length > MAX_SERVER_URL) throw new HelperError('expected a registry server URL on stdin');
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`);
  } catch {
    throw new HelperError(`not a registry server URL: ${JSON.stringify(text.slice(0, 200))}`);
  }
  if (url.host === '' || url.username !== '' || url.password !== '') throw new HelperError(`not a registry server URL: ${JSON.stringify(text.slice(0, 200))}`);
  return url.host;
}

/** docker's `get` answer. */
export function dockerAnswer(serverUrl: string, login: Login): string {
  return JSON.stringify({ ServerURL: serverUrl.trim(), Username: login.username, Secret: login.password });
}

const KUBELET_API_VERSIONS = [
  'credentialprovider.kubelet.k8s.io/v1',
  'credentialprovider.kubelet.k8s.io/v1beta1',
  'credentialprovider.kubelet.k8s.io/v1alpha1',
];

export interface KubeletRequest {
  apiVersion: string;
  image: string;
}

export function parseKubeletRequest(text: string): KubeletRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HelperError('expected a CredentialProviderRequest (JSON) on stdin');
  }
  const { apiVersion, kind, image } = (body ?? {}) as Record<string, unknown>;
  if (typeof apiVersion !== 'string' || !KUBELET_API_VERSIONS.includes(apiVersion)) {
    throw new HelperError(`unsupported apiVersion ${JSON.stringify(apiVersion)}; expected one of ${KUBELET_API_VERSIONS.join(', ')}`);
  }
  if (kind !== 'CredentialProviderRequest') throw new HelperError(`expected kind CredentialProviderRequest, got ${JSON.stringify(kind)}`);
  if (typeof image !== 'string' || image === '' || image.length > MAX_SERVER_URL) throw new HelperError('the request names no image');
  return { apiVersion, image };
}

/** The registry host of an image reference (`host[:port]/repo[:tag|@digest]`). */
export function hostOfImage(image: string): string {
  const first = image.split('/')[0]!;
  if (!image.includes('/') || !(first.includes('.') || first.includes(':') || first === 'localhost')) {
    throw new HelperError(`the image ${JSON.stringify(image.slice(0, 200))} names no registry host`);
  }
  return hostOfServerUrl(first);
}

/** Go's duration text (`1h2m3s`), which the kubelet parses. */
function goDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m${s % 60}s`;
}

/**
 * The kubelet's answer: the login for the image's registry host, cached by the kubelet per
 * registry until `refreshMs` before the token expires.
 */
export function kubeletAnswer(request: KubeletRequest, host: string, login: Login, now: Date, refreshMs: number): string {
  return JSON.stringify({
    apiVersion: request.apiVersion,
    kind: 'CredentialProviderResponse',
    cacheKeyType: 'Registry',
    cacheDuration: goDuration(login.expiresAt.getTime() - now.getTime() - refreshMs),
    auth: { [host]: { username: login.username, password: login.password } },
  });
}
