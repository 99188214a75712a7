/**
 * Parses /v2 paths. Repository names contain slashes, so routes are recognised from the end of
 * the path (`.../manifests/<ref>`, `.../blobs/uploads/<id>`, ...) and the rest is the name.
 */
import { Codes, RegistryError } from '../../core/errors.js';

export type OciRoute =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'tags'; name: string }
  | { kind: 'referrers'; name: string; digest: string };

const PATTERNS: Array<[RegExp, (m: RegExpExecArray) => OciRoute]> = [
  [/^(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1]!, reference: m[2]! })],
  [/^(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: m[1]! })],
  [/^(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: m[1]!, id: m[2]! })],
  [/^(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1]!, digest: m[2]! })],
  [/^(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1]! })],
  [/^(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', name: m[1]!, digest: m[2]! })],
];

/** `path` is the URL path after `/v2/`, still percent-encoded. */
export function parseOciRoute(path: string): OciRoute | undefined {
  if (path === '') return { kind: 'base' };
  if (path === '_catalog') return { kind: 'catalog' };
  if (path.length > 2048) throw new RegistryError(Codes.NameInvalid, 'path too long');
  for (const [re, make] of PATTERNS) {
    const m = re.exec(path);
    // Without a '%' every part decodes to itself (and the route keeps its literal's shape).
    if (m) return path.includes('%') ? decodeRoute(make(m)) : make(m);
  }
  return undefined;
}

function decodeRoute(r: OciRoute): OciRoute {
  try {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(r)) out[k] = k === 'kind' ? v : decodeURIComponent(v);
    return out as unknown as OciRoute;
  } catch {
    throw new RegistryError(Codes.NameInvalid, 'malformed percent-encoding in path');
  }
}
