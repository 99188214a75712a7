/**
 * Reads an image's layers, lowest first, into a MergedView. Each layer streams through
 * decompression and the tar reader exactly once; an entry's bytes are held only when a keep
 * rule matched its path (bounded per rule and in total) and are otherwise either streamed past
 * probers (which derive a small result, e.g. Go build info, without keeping the file) or
 * discarded. Memory therefore follows what extractors asked for, not layer size.
 */
import { type Readable, addAbortSignal } from 'node:stream';
import { decompressLayer, type DecompressTotals, type LayerCompression } from './decompress.js';
import { ScanError, toScanError } from './errors.js';
import { resolveLimits, type ScanLimits } from './limits.js';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX, basename, dirname, normalizePath } from './paths.js';
import { readTar, type TarBody, type TarEntry } from './tar.js';
import { type FileNode, MergedView } from './view.js';

/** Ask for a file's bytes to be kept in the view, by real path. */
export interface KeepRule {
  readonly id: string;
  match(path: string): boolean;
  /** Files larger are skipped (or cut to this length when `prefixOnly`). */
  readonly maxBytes: number;
  /** Only the first maxBytes are needed (e.g. headers of Python METADATA). */
  readonly prefixOnly?: boolean;
}

/** Streams over one file's bytes as they pass; write() returns false once it has seen enough. */
export interface ProbeSink {
  write(chunk: Buffer): boolean;
  /** The derived value, or undefined when the file turned out not to be of interest. */
  end(): unknown;
}

/** Derives a small value from matching files without keeping them (e.g. Go binaries, jars). */
export interface Prober {
  readonly id: string;
  match(path: string, entry: { size: number; mode: number }): boolean;
  open(path: string, size: number): ProbeSink;
}

export interface ReadLayersOptions {
  rules?: readonly KeepRule[];
  probers?: readonly Prober[];
  limits?: Partial<ScanLimits>;
  signal?: AbortSignal;
  onLayer?: (info: { index: number; compression: LayerCompression }) => void;
}

const PATH_MAX = 4096;

export type LayerSource = AsyncIterable<Readable> | Iterable<Readable>;

export async function readLayers(layers: LayerSource, opts: ReadLayersOptions = {}): Promise<MergedView> {
  const limits = resolveLimits(opts.limits);
  // A ref'd timer rather than AbortSignal.timeout(): an unref'd one lets a process whose only
  // work is this scan exit with the scan still pending, instead of failing it.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new DOMException('scan time limit exceeded', 'TimeoutError')), limits.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline.signal]) : deadline.signal;
  const view = new MergedView(limits);
  const totals: DecompressTotals = { decompressed: 0 };
  const pending = Symbol.iterator in layers ? [...(layers as Iterable<Readable>)] : undefined;
  let current: Readable | undefined;
  try {
    signal.throwIfAborted();
    const source: AsyncIterable<Readable> = pending ? iterate(pending) : (layers as AsyncIterable<Readable>);
    const it = source[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (let index = 0; ; index++) {
        const next = await raceAbort(it.next(), signal);
        if (next.done) break;
        current = next.value;
        await readOneLayer(current, index, view, { ...opts, limits, signal, totals });
        current.destroy();
        current = undefined;
        view.stats.layers++;
      }
      finished = true;
    } finally {
      // Not awaited: a source stuck producing its next layer must not hold up the error.
      if (!finished) it.return?.()?.catch(() => undefined);
    }
    view.stats.decompressedBytes = totals.decompressed;
    return view;
  } catch (e) {
    current?.destroy();
    for (const s of pending ?? []) s.destroy();
    throw toScanError(e, signal);
  } finally {
    clearTimeout(timer);
  }
}

async function* iterate(streams: Readable[]): AsyncGenerator<Readable> {
  while (streams.length > 0) yield streams.shift()!;
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(toScanError(signal.reason, signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(toScanError(signal.reason, signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

interface LayerContext extends ReadLayersOptions {
  limits: ScanLimits;
  signal: AbortSignal;
  totals: DecompressTotals;
}

async function readOneLayer(stream: Readable, index: number, view: MergedView, ctx: LayerContext): Promise<void> {
  // A stalled source (a blob read that never delivers) is destroyed when the signal fires.
  addAbortSignal(ctx.signal, stream);
  const chunks = decompressLayer(stream, {
    limits: ctx.limits,
    totals: ctx.totals,
    signal: ctx.signal,
    onCompression: (compression) => ctx.onLayer?.({ index, compression }),
  });
  try {
    await readTar(chunks, { maxMetadataBytes: ctx.limits.maxTarMetadataBytes, signal: ctx.signal }, (entry, body) => applyEntry(entry, body, index, view, ctx));
    // Read on past the end-of-archive marker to the end of the blob: only then does the
    // decompressor check its own end (gzip's trailer, a whole zstd frame), so a compressed
    // stream cut after the last entry fails too. Still counted against the decompression bounds.
    for await (const _ of chunks) {
      ctx.signal.throwIfAborted();
    }
  } finally {
    await chunks.return(undefined);
  }
}

async function applyEntry(entry: TarEntry, body: TarBody, layer: number, view: MergedView, ctx: LayerContext): Promise<void> {
  view.stats.entries++;
  // Longer paths cannot exist on Linux (PATH_MAX), so no runtime would extract them either.
  if (entry.path.length > PATH_MAX) return;
  const path = normalizePath(entry.path);
  if (path === '') return; // the root itself ("./"): nothing to record
  const base = basename(path);
  if (base === OPAQUE_WHITEOUT) return view.opaque(dirname(path), layer);
  if (base.startsWith(WHITEOUT_PREFIX)) {
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name !== '' && name !== '.' && name !== '..') view.whiteout(dirname(path), name, layer);
    return;
  }
  const at = view.locate(path, layer);
  if (!at) return; // the parent resolves through a symlink loop: nothing sane to write
  switch (entry.type) {
    case 'dir':
      return view.putDir(at, layer);
    case 'symlink':
      if (entry.linkname.length > PATH_MAX) return view.put(at); // unresolvable on Linux too
      return view.put(at, { kind: 'symlink', layer, target: entry.linkname });
    case 'hardlink': {
      // A hard link names a file already in the archive; it is a second name for the same
      // bytes, so it survives a later whiteout of the first name.
      const target = view.lookup(normalizePath(entry.linkname), false)?.node;
      return view.put(at, target && target.kind !== 'dir' ? { ...target, layer } : undefined);
    }
    case 'other':
      return view.put(at); // devices, fifos, sparse files: they occupy the path, nothing to read
    case 'file':
      return view.put(at, await readFile(entry, body, path, at.path, layer, view, ctx));
  }
}

async function readFile(
  entry: TarEntry,
  body: TarBody,
  tarPath: string,
  realPath: string,
  layer: number,
  view: MergedView,
  ctx: LayerContext,
): Promise<FileNode | undefined> {
  // Rules match the real path (after symlinked parents) or the path as written in the tar.
  const names = realPath === tarPath ? [realPath] : [realPath, tarPath];
  const rule = ctx.rules?.find((r) => names.some((n) => r.match(n)));
  const probes: Array<{ id: string; sink: ProbeSink; active: boolean }> = [];
  for (const p of ctx.probers ?? []) {
    if (!names.some((n) => p.match(n, entry))) continue;
    const sink = guard(() => p.open(realPath, entry.size), view);
    if (sink) probes.push({ id: p.id, sink, active: true });
  }
  if (!rule && probes.length === 0) return undefined;

  const node: FileNode = { kind: 'file', layer, size: entry.size };
  let keep = 0;
  if (rule && entry.size > rule.maxBytes && !rule.prefixOnly) {
    node.skippedTooLarge = { rule: rule.id, maxBytes: rule.maxBytes };
    view.stats.skippedTooLarge++;
  } else if (rule) {
    keep = Math.min(entry.size, rule.maxBytes);
    view.reserve(keep);
  }
  const parts: Buffer[] = [];
  let kept = 0;
  for await (const piece of body.pieces()) {
    if (kept < keep) {
      const take = piece.subarray(0, keep - kept);
      // Copied so the kept file does not pin the decompressor's whole chunk.
      parts.push(Buffer.from(take));
      kept += take.length;
    }
    for (const p of probes) {
      if (p.active) p.active = guard(() => p.sink.write(piece), view) ?? false;
    }
    if (kept >= keep && !probes.some((p) => p.active)) break;
  }
  if (rule && !node.skippedTooLarge) {
    node.data = Buffer.concat(parts, kept);
    node.truncated = kept < entry.size;
  }
  for (const p of probes) {
    const value = guard(() => p.sink.end(), view);
    if (value !== undefined) (node.derived ??= new Map()).set(p.id, value);
  }
  return node;
}

// Probers parse untrusted bytes; a malformed binary or jar must cost that file's result, not
// the scan. Limit errors still propagate: they are the scan's own bounds.
function guard<T>(f: () => T, view: MergedView): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof ScanError) throw e;
    view.stats.probeErrors++;
    return undefined;
  }
}
