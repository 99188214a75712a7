/**
 * Builds OCI image layouts on disk (the format skopeo's `oci:<dir>:<tag>` transport reads), so
 * that `berth demo-image` and the end-to-end tests push real images without a container engine.
 * Layers are genuine tar+gzip streams (of given files, or of random bytes for tests), generated
 * and hashed while streaming to disk: a 1 GiB layer costs no more memory than a 1 KiB one.
 */
import { createHash, randomBytes, randomUUID, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export const MediaTypes = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** The annotation OCI layouts use to name an entry of index.json (the `<tag>` in `oci:dir:tag`). */
const refName = 'org.opencontainers.image.ref.name';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface LayerBlob {
  /** sha256 of the compressed blob (what the registry stores). */
  digest: string;
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: string;
  size: number;
  mediaType: string;
}

export interface BuiltImage {
  manifestDigest: string;
  manifestSize: number;
  /** The exact manifest bytes, as stored in the layout. */
  manifest: Buffer;
  configDigest: string;
  layers: LayerBlob[];
  platform: Platform;
}

export interface ImageLayoutOptions {
  /** Number of fresh random layers (in addition to reuseLayers). */
  layers: number;
  /** Uncompressed payload size of each fresh layer; an array gives each layer its own size. */
  layerBytes: number | number[];
  tag: string;
  platform?: Platform;
  /** Layers already present in the same layout directory, placed first (a shared base image). */
  reuseLayers?: LayerBlob[];
  /** Layers with given contents, placed after reuseLayers and before the random ones. */
  fileLayers?: LayerEntry[][];
  /** The config's `created` and history (default 2024-01-01). */
  created?: string;
}

export interface IndexLayoutOptions {
  platforms: Platform[];
  /** Per platform: layers with given contents (e.g. a shared base and a platform's own layer). */
  fileLayers?: (platform: Platform) => LayerEntry[][];
  created?: string;
  /** Fresh layers per platform image. */
  layers: number;
  layerBytes: number | number[];
  tag: string;
}

export interface BuiltIndex {
  indexDigest: string;
  indexSize: number;
  index: Buffer;
  images: BuiltImage[];
}

/** Path of a blob inside a layout (or any `blobs/<alg>/<hex>` tree). */
export function blobPath(dir: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  return join(dir, 'blobs', alg!, hex!);
}

/** Streams a file through sha256. */
export async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A file or directory of a layer; a file holds `content`, or `randomBytes` random bytes. */
export interface LayerEntry {
  name: string;
  content?: Buffer;
  randomBytes?: number;
}

/** Builds one image and tags it in `dir`'s index.json (creating the layout, or adding to it). */
export async function buildImageLayout(dir: string, opts: ImageLayoutOptions): Promise<BuiltImage> {
  await initLayout(dir);
  const image = await buildImage(dir, opts, opts.platform ?? { os: 'linux', architecture: 'amd64' });
  await addToIndexJson(dir, { mediaType: MediaTypes.manifest, digest: image.manifestDigest, size: image.manifestSize }, opts.tag);
  return image;
}

/** Builds one image per platform and an image index over them, tagged in `dir`'s index.json. */
export async function buildIndexLayout(dir: string, opts: IndexLayoutOptions): Promise<BuiltIndex> {
  await initLayout(dir);
  const images: BuiltImage[] = [];
  for (const platform of opts.platforms) {
    const { fileLayers, ...rest } = opts;
    images.push(await buildImage(dir, { ...rest, ...(fileLayers && { fileLayers: fileLayers(platform) }) }, platform));
  }
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.index,
      manifests: images.map((img) => ({
        mediaType: MediaTypes.manifest,
        digest: img.manifestDigest,
        size: img.manifestSize,
        platform: img.platform,
      })),
    }),
  );
  const indexDigest = await writeBlob(dir, index);
  await addToIndexJson(dir, { mediaType: MediaTypes.index, digest: indexDigest, size: index.length }, opts.tag);
  return { indexDigest, indexSize: index.length, index, images };
}

/** The descriptor tagged `tag` in a layout's index.json (e.g. one skopeo wrote). */
export async function readLayoutRef(dir: string, tag: string): Promise<Descriptor> {
  const indexJson = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const found = indexJson.manifests.find((d) => d.annotations?.[refName] === tag);
  if (!found) throw new Error(`no ${tag} in ${dir}/index.json`);
  return found;
}

async function initLayout(dir: string): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  try {
    await stat(join(dir, 'index.json'));
  } catch {
    await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.index, manifests: [] }));
  }
}

async function addToIndexJson(dir: string, desc: Descriptor, tag: string): Promise<void> {
  const path = join(dir, 'index.json');
  const indexJson = JSON.parse(await readFile(path, 'utf8')) as { manifests: Descriptor[] };
  // A tag names one entry; retagging replaces it, as skopeo does.
  indexJson.manifests = indexJson.manifests.filter((d) => d.annotations?.[refName] !== tag);
  indexJson.manifests.push({ ...desc, annotations: { [refName]: tag } });
  await writeFile(path, JSON.stringify(indexJson));
}

async function buildImage(
  dir: string,
  opts: Pick<ImageLayoutOptions, 'layers' | 'layerBytes' | 'reuseLayers' | 'fileLayers' | 'created'>,
  platform: Platform,
): Promise<BuiltImage> {
  const layers = [...(opts.reuseLayers ?? [])];
  for (const entries of opts.fileLayers ?? []) layers.push(await writeLayer(dir, entries));
  for (let i = 0; i < opts.layers; i++) {
    const bytes = Array.isArray(opts.layerBytes) ? opts.layerBytes[i % opts.layerBytes.length]! : opts.layerBytes;
    const dirName = `layer-${randomUUID()}/`;
    layers.push(await writeLayer(dir, [{ name: dirName }, { name: `${dirName}data.bin`, randomBytes: bytes }]));
  }
  const created = opts.created ?? '2024-01-01T00:00:00Z';
  const config = Buffer.from(
    JSON.stringify({
      created,
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/true'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created, created_by: 'berth oci-layout' })),
    }),
  );
  const configDigest = await writeBlob(dir, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.manifest,
      config: { mediaType: MediaTypes.config, digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  const manifestDigest = await writeBlob(dir, manifest);
  return { manifestDigest, manifestSize: manifest.length, manifest, configDigest, layers, platform };
}

/** Writes a small blob (config, manifest, index) and returns its digest. */
async function writeBlob(dir: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  await writeFile(blobPath(dir, digest), data);
  return digest;
}

/** Streams a tar of `entries` through gzip into the layout. */
async function writeLayer(dir: string, entries: LayerEntry[]): Promise<LayerBlob> {
  const tmp = join(dir, 'blobs', `.tmp-${randomUUID()}`);
  const diff = new HashTap();
  const compressed = new HashTap();
  try {
    // Level 1: random bytes don't compress anyway, and this keeps big layers fast.
    await pipeline(tar(entries), diff, createGzip({ level: 1 }), compressed, createWriteStream(tmp));
    const digest = compressed.digest();
    await rename(tmp, blobPath(dir, digest));
    return { digest, diffId: diff.digest(), size: compressed.size, mediaType: MediaTypes.layer };
  } finally {
    await rm(tmp, { force: true });
  }
}

/** A pass-through stream that hashes and counts what flows through it. */
class HashTap extends Transform {
  private readonly hash: Hash = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

/** Names ending in '/' are directories. */
async function* tar(entries: LayerEntry[]): AsyncGenerator<Buffer> {
  for (const e of entries) {
    if (e.name.endsWith('/')) {
      yield tarHeader({ name: e.name, size: 0, type: '5', mode: 0o755 });
      continue;
    }
    const size = e.content?.length ?? e.randomBytes ?? 0;
    yield tarHeader({ name: e.name, size, type: '0', mode: 0o644 });
    if (e.content) yield e.content;
    else for (let left = size, chunk = 1 << 20; left > 0; left -= chunk) yield randomBytes(Math.min(chunk, left));
    yield Buffer.alloc((512 - (size % 512)) % 512);
  }
  // The two zero blocks that end an archive.
  yield Buffer.alloc(1024);
}

/** A POSIX ustar header block (names must fit in 100 bytes, which ours do). */
export function tarHeader(entry: { name: string; size: number; type: '0' | '5'; mode: number }): Buffer {
  const h = Buffer.alloc(512);
  const field = (offset: number, len: number, value: string) => h.write(value, offset, len, 'ascii');
  const octal = (offset: number, len: number, value: number) => field(offset, len, value.toString(8).padStart(len - 1, '0') + '\0');
  if (Buffer.byteLength(entry.name) > 100) throw new Error(`tar name too long: ${entry.name}`);
  field(0, 100, entry.name);
  octal(100, 8, entry.mode);
  octal(108, 8, 0); // uid
  octal(116, 8, 0); // gid
  octal(124, 12, entry.size);
  octal(136, 12, Math.floor(Date.UTC(2024, 0, 1) / 1000));
  field(148, 8, '        '); // checksum is computed with its own field as spaces
  field(156, 1, entry.type);
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  field(265, 32, 'root');
  field(297, 32, 'root');
  let sum = 0;
  for (const b of h) sum += b;
  field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}
