/**
 * The data sets the OCI conformance suite's newer runner (distribution-spec main,
 * `conformance/testdata.go` and `run.go`'s GenerateData) pushes, generated the same way: random
 * gzip (or plain) tar layers, an image config naming their diff IDs, image manifests, indexes,
 * artifacts, referrers (with a subject, with a missing subject, an index with a subject),
 * descriptors carrying `data`, unknown top-level fields, sha512 digests. Each set records the
 * blobs, manifests (in push order), tags and expected referrers the runner then checks.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { digestOf } from './conformance-client.js';

export const MT = {
  conf1: 'application/vnd.example.oci.conformance.v1',
  conf2: 'application/vnd.example.oci.conformance.v2',
  octet: 'application/octet-stream',
  config: 'application/vnd.oci.image.config.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGz: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerNd: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  layerNdGz: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  empty: 'application/vnd.oci.empty.v1+json',
} as const;

export type Algo = 'sha256' | 'sha512';
export interface Platform {
  architecture: string;
  os: string;
}
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: string;
  platform?: Platform;
  artifactType?: string;
}

export interface GenOpts {
  algo?: Algo;
  annotations?: Record<string, string>;
  annotationUniq?: boolean;
  artifactType?: string;
  gzip?: boolean;
  configBytes?: Buffer;
  configMediaType?: string;
  extraField?: boolean;
  layerBytes?: Buffer;
  layerCount?: number;
  layerMediaType?: string;
  platform?: Platform;
  platforms?: Platform[];
  setData?: boolean;
  subject?: Descriptor;
  tag?: string;
}

const AMD64: Platform = { architecture: 'amd64', os: 'linux' };
const ARM64: Platform = { architecture: 'arm64', os: 'linux' };
const text = () => randomBytes(16).toString('base64url').toUpperCase();

/** A one-file ustar archive: a 512-byte header, the content padded to 512, two zero blocks. */
function tarOf(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, pad, Buffer.alloc(1024)]);
}

/** An unknown top-level field, as genAddJSONFields adds one (`org.<random>`). */
const withExtra = (v: object, extra: boolean) => (extra ? { ...v, [`org.${text()}`]: text() } : v);

export class TestData {
  readonly tags = new Map<string, string>();
  readonly desc = new Map<string, Descriptor>();
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, Buffer>();
  readonly manOrder: string[] = [];
  readonly referrers = new Map<string, Descriptor[]>();
  /** Pushed by digest only (non-canonical digests need tag parameters to be tagged). */
  byDigestOnly = false;
  /** Tags pushed as `?tag=` parameters of the push by digest rather than by their own PUT. */
  tagParams = false;

  constructor(readonly name: string) {}

  addBlob(b: Buffer, o: GenOpts & { descriptorMediaType?: string } = {}): string {
    const digest = digestOf(b, o.algo);
    this.blobs.set(digest, b);
    this.desc.set(digest, { mediaType: o.descriptorMediaType ?? MT.octet, digest, size: b.length, ...(o.setData && { data: b.toString('base64') }) });
    return digest;
  }

  genBlob(size = 2048, o: GenOpts & { descriptorMediaType?: string } = {}): string {
    return this.addBlob(randomBytes(size), o);
  }

  /** Returns [compressed digest, uncompressed digest]. */
  genLayer(n: number, o: GenOpts = {}): [string, string] {
    const tar = tarOf(
      `./conformance-${n}.txt`,
      Buffer.from(`Conformance test file contents for file number ${n}.\nTodays lucky number is ${randomBytes(6).readUIntBE(0, 6)}\n`),
    );
    const gz = o.gzip !== false;
    const body = gz ? gzipSync(tar) : tar;
    const dc = digestOf(body, o.algo);
    this.blobs.set(dc, body);
    this.desc.set(dc, { mediaType: gz ? MT.layerGz : MT.layer, digest: dc, size: body.length, ...(o.setData && { data: body.toString('base64') }) });
    return [dc, digestOf(tar, o.algo)];
  }

  genConfig(p: Platform, diffIds: string[], o: GenOpts = {}): string {
    const config = withExtra({ author: 'OCI Conformance Test', ...p, rootfs: { type: 'layers', diff_ids: diffIds } }, o.extraField === true);
    const body = Buffer.from(JSON.stringify(config));
    const digest = digestOf(body, o.algo);
    this.blobs.set(digest, body);
    this.desc.set(digest, { mediaType: MT.config, digest, size: body.length, ...(o.setData && { data: body.toString('base64') }) });
    return digest;
  }

  private record(body: Buffer, mediaType: string, o: GenOpts, artifactType: string | undefined, annotations: Record<string, string> | undefined): string {
    const digest = digestOf(body, o.algo);
    this.manifests.set(digest, body);
    this.manOrder.push(digest);
    this.desc.set(digest, { mediaType, digest, size: body.length, ...(o.setData && { data: body.toString('base64') }) });
    if (o.subject) {
      const list = this.referrers.get(o.subject.digest) ?? [];
      list.push({ mediaType, ...(artifactType && { artifactType }), digest, size: body.length, ...(annotations && { annotations }) });
      this.referrers.set(o.subject.digest, list);
    }
    if (o.tag) this.tags.set(o.tag, digest);
    return digest;
  }

  private annotationsOf(o: GenOpts): Record<string, string> | undefined {
    if (!o.annotationUniq) return o.annotations;
    return { ...o.annotations, [`org.example.${text()}`]: text() };
  }

  genManifest(config: Descriptor, layers: Descriptor[], o: GenOpts = {}): string {
    const annotations = this.annotationsOf(o);
    const m = {
      schemaVersion: 2,
      mediaType: MT.manifest,
      ...(o.artifactType && { artifactType: o.artifactType }),
      config,
      layers,
      ...(o.subject && { subject: o.subject }),
      ...(annotations && { annotations }),
    };
    const body = Buffer.from(JSON.stringify(withExtra(m, o.extraField === true)));
    return this.record(body, MT.manifest, o, o.artifactType ?? config.mediaType, annotations);
  }

  genManifestFull(o: GenOpts = {}): string {
    const layerCount = o.layerCount ?? 2;
    const compressed: string[] = [];
    const uncompressed: string[] = [];
    for (let l = 0; l < layerCount; l++) {
      if (!o.layerMediaType || o.layerMediaType.startsWith('application/vnd.oci.image.layer.v1.')) {
        const [c, u] = this.genLayer(l, o);
        compressed.push(c);
        uncompressed.push(u);
      } else {
        const lo = { ...o, descriptorMediaType: o.layerMediaType };
        const d = o.layerBytes ? this.addBlob(o.layerBytes, lo) : this.genBlob(2048, lo);
        compressed.push(d);
        uncompressed.push(d);
      }
    }
    const config =
      !o.configMediaType || o.configMediaType === MT.config
        ? this.genConfig(o.platform ?? AMD64, uncompressed, o)
        : this.addBlob(o.configBytes ?? Buffer.alloc(0), { ...o, descriptorMediaType: o.configMediaType });
    return this.genManifest(
      this.desc.get(config)!,
      compressed.map((d) => this.desc.get(d)!),
      o,
    );
  }

  genIndex(platforms: Array<Platform | undefined>, manifests: string[], o: GenOpts = {}): string {
    const annotations = this.annotationsOf(o);
    const ind = {
      schemaVersion: 2,
      mediaType: MT.index,
      ...(o.artifactType && { artifactType: o.artifactType }),
      manifests: manifests.map((d, i) => ({ ...this.desc.get(d)!, ...(platforms[i] && { platform: platforms[i] }) })),
      ...(o.subject && { subject: o.subject }),
      ...(annotations && { annotations }),
    };
    const body = Buffer.from(JSON.stringify(withExtra(ind, o.extraField === true)));
    return this.record(body, MT.index, o, o.artifactType, annotations);
  }

  genIndexFull(o: GenOpts = {}): string {
    const platforms = o.platforms ?? [AMD64, ARM64];
    // As in the runner, each image gets every option too (its tag is then the index's).
    const images = platforms.map((p) => this.genManifestFull({ ...o, platform: p }));
    return this.genIndex(platforms, images, o);
  }
}

/** GenerateData's sets, in its order (sparse, tag parameters and read-only data left out). */
export function mainDataSets(): TestData[] {
  const sets: TestData[] = [];
  const set = (name: string, fill: (td: TestData) => void) => {
    const td = new TestData(name);
    fill(td);
    sets.push(td);
  };
  const artifact = { artifactType: MT.conf1, configMediaType: MT.empty, configBytes: Buffer.from('{}'), layerCount: 1, layerMediaType: MT.conf1 };
  const hello = { annotations: { 'org.opencontainers.conformance': 'hello conformance test' }, annotationUniq: true };
  set('image', (td) => td.genManifestFull({ tag: 'image' }));
  set('image-uncompressed', (td) => td.genManifestFull({ tag: 'image-uncompressed', gzip: false }));
  set('large-manifest', (td) => {
    const annotations: Record<string, string> = {};
    for (let i = 0; i < 390; i++) annotations[`large-annotation-${i}`] = 'A'.repeat(10000);
    td.genManifestFull({ tag: 'large-manifest', annotations });
  });
  set('index', (td) => td.genIndexFull({ tag: 'index' }));
  set('nested-index', (td) => {
    const a = td.genIndexFull();
    const b = td.genIndexFull();
    td.genIndex([undefined, undefined], [a, b], { tag: 'index-of-index' });
  });
  set('empty-index', (td) => td.genIndexFull({ tag: 'index', platforms: [] }));
  set('artifact', (td) => td.genManifestFull({ tag: 'artifact', ...artifact }));
  set('artifact-index', (td) => td.genIndexFull({ tag: 'artifact-index', ...artifact }));
  set('artifact-without-layers', (td) =>
    td.genManifestFull({ tag: 'artifact-without-layers', ...artifact, layerBytes: Buffer.from('{}'), layerMediaType: MT.empty }),
  );
  set('artifacts-with-subject', (td) => {
    const subject = td.desc.get(td.genManifestFull({ tag: 'image' }))!;
    td.genManifestFull({ subject });
    td.genManifestFull({ ...artifact, ...hello, subject, tag: 'tagged-artifact1' });
    td.genManifestFull({ ...artifact, artifactType: MT.conf2, layerMediaType: MT.octet, ...hello, subject, tag: 'tagged-artifact2' });
  });
  set('index-with-subject', (td) => {
    const subject = td.desc.get(td.genIndexFull({ tag: 'index' }))!;
    td.genIndexFull({ ...artifact, ...hello, subject, tag: 'tagged-artifact' });
  });
  set('missing-subject', (td) => {
    const subject = { mediaType: MT.manifest, size: 123, digest: digestOf('missing content') };
    td.genManifestFull({ ...artifact, ...hello, subject, tag: 'tagged-artifact' });
  });
  set('data-field', (td) => td.genManifestFull({ tag: 'data-field', setData: true }));
  set('non-distributable-layers', (td) => {
    const foreign = (mediaType: string, size: number): Descriptor => {
      const digest = digestOf(randomBytes(256));
      return { mediaType, digest, size, urls: [`https://store.example.com/blobs/sha256/${digest.slice(7)}`] };
    };
    const [c, u] = td.genLayer(1);
    const layers = [foreign(MT.layerNdGz, 123456), foreign(MT.layerNd, 12345), td.desc.get(c)!];
    const config = td.genConfig(AMD64, [digestOf(randomBytes(256)), layers[1]!.digest, u]);
    td.genManifest(td.desc.get(config)!, layers, { tag: 'non-distributable-image' });
  });
  set('custom-fields', (td) => td.genIndexFull({ tag: 'custom-fields', extraField: true }));
  set('no-layers', (td) => td.genManifestFull({ tag: 'no-layers', layerCount: 0 }));
  set('sha512', (td) => {
    td.genIndexFull({ algo: 'sha512' });
    td.byDigestOnly = true;
  });
  // The runner's tag-param sets (OCI_VERSION=1.1+dev): every manifest gets a tag, and the index a
  // second one, all given as ?tag= parameters of the push by digest.
  for (const algo of ['sha256', 'sha512'] as const) {
    set(`tag-param-${algo}`, (td) => {
      td.genIndexFull({ tag: `tag-param-${algo}`, algo });
      for (const [i, digest] of td.manOrder.entries()) td.tags.set(`tag-param-${algo}-${i}`, digest);
      td.tagParams = true;
    });
  }
  return sets;
}
