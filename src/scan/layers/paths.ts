/**
 * Lexical path handling for paths read from layers. A tar path is only ever a key into the
 * in-memory merged view: it never reaches the host file system. Normalizing still matters, so
 * that `./etc/os-release`, `/etc/os-release` and `etc/../etc/os-release` name one file and
 * `../../etc/passwd` cannot name anything outside the image's root.
 */

/** Components of a path relative to the image root: no empty, `.` or `..` parts. */
export function splitPath(raw: string): string[] {
  const out: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..')
      out.pop(); // at the root, `..` stays at the root, as the kernel does
    else out.push(part);
  }
  return out;
}

/** The normalized form used as the view's key: `etc/os-release`, no leading slash; root is ''. */
export function normalizePath(raw: string): string {
  return splitPath(raw).join('/');
}

export function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
