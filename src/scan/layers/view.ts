/**
 * The merged file system of an image, in memory, holding only what extractors asked for.
 * Regular files nobody asked for are not recorded at all; directories exist only as parents of
 * recorded nodes; symlinks are recorded (small) because lookups must follow them. Each node
 * remembers the layer that wrote it, which is what OCI whiteouts need: a whiteout removes what
 * lower layers wrote, never what its own layer wrote (image-spec, layer.md "Whiteouts").
 */
import { ScanLimitError } from './errors.js';
import type { ScanLimits } from './limits.js';
import { splitPath } from './paths.js';

export interface DirNode {
  kind: 'dir';
  layer: number;
  children: Map<string, Node>;
  /**
   * The layer whose whiteouts last pruned this directory: nothing below it is older, so later
   * whiteouts of the same layer need not walk it again (else N whiteouts cost N × subtree).
   */
  prunedFor?: number;
}

export interface FileNode {
  kind: 'file';
  layer: number;
  size: number;
  /** Present when a keep rule matched and the file fit its bound. */
  data?: Buffer;
  /** The rule allowed a prefix only and the file was longer. */
  truncated?: boolean;
  /** Matched a keep rule but was larger than its bound: it still hides lower layers' copies. */
  skippedTooLarge?: { rule: string; maxBytes: number };
  /** Results of probers that streamed over the file (see ProbeSink), by prober id. */
  derived?: Map<string, unknown>;
}

export interface SymlinkNode {
  kind: 'symlink';
  layer: number;
  target: string;
}

export type Node = DirNode | FileNode | SymlinkNode;

export interface ViewStats {
  layers: number;
  entries: number;
  decompressedBytes: number;
  peakKeptBytes: number;
  skippedTooLarge: number;
  symlinkLoops: number;
  probeErrors: number;
}

export interface KeptFile {
  path: string;
  data: Buffer;
  size: number;
  truncated: boolean;
}

interface Located {
  dir: DirNode;
  name: string;
  /** Real path of the located name, after following symlinked parents. */
  path: string;
}

type ViewLimits = Pick<ScanLimits, 'maxKeptBytes' | 'maxNodes' | 'maxSymlinkHops'>;

export class MergedView {
  private readonly root: DirNode = { kind: 'dir', layer: -1, children: new Map() };
  private nodes = 0;
  keptBytes = 0;
  readonly stats: ViewStats = {
    layers: 0,
    entries: 0,
    decompressedBytes: 0,
    peakKeptBytes: 0,
    skippedTooLarge: 0,
    symlinkLoops: 0,
    probeErrors: 0,
  };

  constructor(private readonly limits: ViewLimits) {}

  // ---- reading -------------------------------------------------------------------------------

  /** Contents of a kept file, following symlinks (bounded); undefined if absent or not kept. */
  read(path: string): Buffer | undefined {
    const n = this.lookup(path)?.node;
    return n?.kind === 'file' ? n.data : undefined;
  }

  /** The node at a path and its real path once symlinks are followed. */
  lookup(path: string, followFinal = true): { node: Node; path: string } | undefined {
    const comps = splitPath(path);
    if (comps.length === 0) return { node: this.root, path: '' };
    const parent = this.walk(comps.slice(0, -1), -1, false);
    if (!parent) return undefined;
    const name = comps[comps.length - 1]!;
    const node = parent.dir.children.get(name);
    if (!node) return undefined;
    const full = join(parent.path, name);
    if (node.kind !== 'symlink' || !followFinal) return { node, path: full };
    // Following the final link is a lookup of the target from the link's directory.
    return this.lookupFrom(parent.path, node.target, 1);
  }

  /** Kept files in path order, optionally filtered by real path. */
  *files(filter?: (path: string) => boolean): Generator<KeptFile> {
    for (const [path, n] of this.walkFiles()) {
      if (n.data && (!filter || filter(path))) {
        yield { path, data: n.data, size: n.size, truncated: n.truncated === true };
      }
    }
  }

  /** Files a keep rule matched that were too large to keep, and are present in the merged view. */
  *oversized(): Generator<{ path: string; size: number; rule: string; maxBytes: number }> {
    for (const [path, n] of this.walkFiles()) {
      if (n.skippedTooLarge) yield { path, size: n.size, ...n.skippedTooLarge };
    }
  }

  /** Values a prober derived from files still present in the merged view. */
  *derived<T>(proberId: string): Generator<{ path: string; value: T }> {
    for (const [path, n] of this.walkFiles()) {
      if (n.derived?.has(proberId)) yield { path, value: n.derived.get(proberId) as T };
    }
  }

  /** Depth-first in name order; an explicit stack, since hostile paths can nest very deep. */
  private *walkFiles(): Generator<[string, FileNode]> {
    const stack: Array<{ base: string; dir: DirNode; names: string[]; i: number }> = [];
    const open = (base: string, dir: DirNode) => stack.push({ base, dir, names: [...dir.children.keys()].sort(), i: 0 });
    open('', this.root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.i >= top.names.length) {
        stack.pop();
        continue;
      }
      const name = top.names[top.i++]!;
      const n = top.dir.children.get(name);
      const p = join(top.base, name);
      if (n?.kind === 'dir') open(p, n);
      else if (n?.kind === 'file') yield [p, n];
    }
  }

  // ---- writing (while layers are read) -----------------------------------------------------

  /** Where a write of `path` lands, creating parent directories and following symlinked ones. */
  locate(path: string, layer: number): Located | undefined {
    const comps = splitPath(path);
    if (comps.length === 0) return undefined;
    const parent = this.walk(comps.slice(0, -1), layer, true);
    if (!parent) return undefined;
    const name = comps[comps.length - 1]!;
    return { dir: parent.dir, name, path: join(parent.path, name) };
  }

  /** Replaces whatever is at the located name; with no node, the name just becomes absent. */
  put(at: Located, node?: Node): void {
    const old = at.dir.children.get(at.name);
    if (old) {
      this.release(old);
      at.dir.children.delete(at.name);
    }
    if (!node) return;
    this.adopt(node);
    at.dir.children.set(at.name, node);
  }

  /** A directory entry: keeps a lower directory (merged), replaces a lower non-directory. */
  putDir(at: Located, layer: number): void {
    const old = at.dir.children.get(at.name);
    if (old?.kind === 'dir') old.layer = layer;
    else if (old) this.put(at, { kind: 'dir', layer, children: new Map() });
  }

  /** `.wh.<name>`: removes what lower layers had at dir/name. */
  whiteout(dirPath: string, name: string, layer: number): void {
    const parent = this.walk(splitPath(dirPath), layer, false);
    const node = parent?.dir.children.get(name);
    if (parent && node && !this.prune(node, layer)) {
      this.release(node);
      parent.dir.children.delete(name);
    }
  }

  /** `.wh..wh..opq`: hides every lower-layer child of the directory. */
  opaque(dirPath: string, layer: number): void {
    const parent = this.walk(splitPath(dirPath), layer, false);
    if (!parent) return;
    this.pruneChildren(parent.dir, layer);
  }

  /** Throws before a file's bytes are buffered if keeping them would exceed the budget. */
  reserve(bytes: number): void {
    if (this.keptBytes + bytes > this.limits.maxKeptBytes) {
      throw new ScanLimitError('maxKeptBytes', this.limits.maxKeptBytes, 'files kept for inventory exceed the memory budget');
    }
  }

  // ---- internals -----------------------------------------------------------------------------

  /** Keeps only what `layer` itself wrote; returns whether anything of the node survives. */
  private prune(node: Node, layer: number): boolean {
    if (node.kind !== 'dir') return node.layer >= layer;
    this.pruneChildren(node, layer);
    return node.layer >= layer || node.children.size > 0;
  }

  private pruneChildren(dir: DirNode, layer: number): void {
    if (dir.prunedFor === layer) return;
    for (const [name, child] of dir.children) {
      if (!this.prune(child, layer)) {
        this.release(child);
        dir.children.delete(name);
      }
    }
    dir.prunedFor = layer;
  }

  private adopt(node: Node): void {
    if (++this.nodes > this.limits.maxNodes) {
      throw new ScanLimitError('maxNodes', this.limits.maxNodes, 'too many files to track in the merged view');
    }
    if (node.kind === 'file' && node.data) {
      this.reserve(node.data.length);
      this.keptBytes += node.data.length;
      this.stats.peakKeptBytes = Math.max(this.stats.peakKeptBytes, this.keptBytes);
    }
  }

  private release(node: Node): void {
    this.nodes--;
    if (node.kind === 'file' && node.data) this.keptBytes -= node.data.length;
    if (node.kind === 'dir') for (const c of node.children.values()) this.release(c);
  }

  /**
   * Walks directory components from the root, following symlinks (relative to the directory
   * holding them, absolute ones from the image root) at most maxSymlinkHops times. With
   * `create`, missing or non-directory components become directories of `layer`.
   */
  private walk(comps: string[], layer: number, create: boolean, hops = 0): { dir: DirNode; path: string } | undefined {
    const stack: Array<[DirNode, string]> = [[this.root, '']];
    // Components still to visit, last one next: symlink targets are pushed in front in O(1).
    const todo = [...comps].reverse();
    while (todo.length > 0) {
      const c = todo.pop()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (stack.length > 1) stack.pop();
        continue;
      }
      const [dir, base] = stack[stack.length - 1]!;
      let child = dir.children.get(c);
      if (child?.kind === 'symlink') {
        if (++hops > this.limits.maxSymlinkHops) {
          this.stats.symlinkLoops++;
          return undefined;
        }
        if (child.target.startsWith('/')) stack.length = 1;
        todo.push(...child.target.split('/').reverse());
        continue;
      }
      if (child?.kind !== 'dir') {
        if (!create) return undefined;
        const fresh: DirNode = { kind: 'dir', layer, children: new Map() };
        this.put({ dir, name: c, path: '' }, fresh);
        child = fresh;
      }
      stack.push([child, join(base, c)]);
    }
    const [dir, path] = stack[stack.length - 1]!;
    return { dir, path };
  }

  private lookupFrom(dirPath: string, target: string, hops: number): { node: Node; path: string } | undefined {
    let cur = { dirPath, target };
    for (let h = hops; ; h++) {
      if (h > this.limits.maxSymlinkHops) {
        this.stats.symlinkLoops++;
        return undefined;
      }
      const start = cur.target.startsWith('/') ? [] : splitPath(cur.dirPath);
      const comps = [...start, ...cur.target.split('/')];
      // Trailing `.`/`..`/'' parts name a directory; resolve them through the walk.
      while (comps.length > 0 && (comps[comps.length - 1] === '' || comps[comps.length - 1] === '.')) comps.pop();
      if (comps.length === 0 || comps[comps.length - 1] === '..') {
        const d = this.walk(comps, -1, false, h);
        return d ? { node: d.dir, path: d.path } : undefined;
      }
      const parent = this.walk(comps.slice(0, -1), -1, false, h);
      if (!parent) return undefined;
      const name = comps[comps.length - 1]!;
      const node = parent.dir.children.get(name);
      if (!node) return undefined;
      if (node.kind !== 'symlink') return { node, path: join(parent.path, name) };
      cur = { dirPath: parent.path, target: node.target };
    }
  }
}

function join(base: string, name: string): string {
  return base === '' ? name : `${base}/${name}`;
}
