/**
 * The requests and checks of the OCI conformance suite's newer runner (distribution-spec main,
 * `conformance/api.go`), one function per API call it makes. Each records what did not hold in
 * `problems` rather than throwing, so one test reports every check of a data set at once. A
 * fallback the runner accepts but counts as unsupported (a 202 where a mount or a monolithic POST
 * should be 201) is a problem here: Berth supports all of them.
 */
import { headerValues, type SuiteClient } from './conformance-client.js';
import type { Fetched } from './registry-http.js';

export const MANIFEST_ACCEPT = 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json';
const OCTET = { 'Content-Type': 'application/octet-stream' };
/** The runner's chunkMin: chunks are at least 1 KiB unless the blob is smaller. */
const CHUNK_MIN = 1024;

export class Checks {
  readonly problems: string[] = [];
  constructor(private readonly c: SuiteClient) {}

  expect(what: string, ok: boolean, r?: Fetched): boolean {
    if (!ok) this.problems.push(`${what}${r ? ` (got ${r.status} ${r.body.toString().slice(0, 200)})` : ''}`);
    return ok;
  }

  status(what: string, r: Fetched, ...codes: number[]): boolean {
    return this.expect(`${what}: status ${codes.join('/')}`, codes.includes(r.status), r);
  }

  header(what: string, r: Fetched, name: string, value?: string): void {
    const got = r.headers.get(name);
    if (value === undefined) this.expect(`${what}: ${name} present`, got !== null, r);
    else this.expect(`${what}: ${name} is ${value}, got ${got}`, got === value);
  }

  /**
   * VerifyDigest: the Docker-Content-Digest header names the digest. The runner requires the
   * header (RequireDigestHeader) on blob pushes, HEADs and GETs and manifest HEADs and GETs
   * when run for the spec's development version (OCI_VERSION=1.1+dev); it is required here.
   */
  digestHeader(what: string, r: Fetched, digest: string): void {
    const got = r.headers.get('docker-content-digest');
    this.expect(`${what}: Docker-Content-Digest ${got} is ${digest}`, got === digest);
  }

  /** BlobVerifyLocation: the Location of a finished upload reads back the bytes. */
  async location(what: string, r: Fetched, body: Buffer): Promise<void> {
    const loc = r.headers.get('location');
    if (!this.expect(`${what}: Location present`, loc !== null)) return;
    const get = await this.c.do('GET', loc!);
    if (this.status(`${what}: GET Location`, get, 200)) this.expect(`${what}: Location reads the blob`, get.body.equals(body));
  }

  /** The answer to the request that ends an upload: 400 for bad bytes, else 201, the digest, a Location that reads back. */
  async closed(what: string, r: Fetched, digest: string, body: Buffer, bad: boolean): Promise<void> {
    if (bad) return void this.status(what, r, 400);
    if (!this.status(what, r, 201)) return;
    this.digestHeader(what, r, digest);
    await this.location(what, r, body);
  }

  async postOnly(repo: string, digest: string, body: Buffer, bad = false): Promise<void> {
    const what = `blob POST ?digest= ${digest.slice(0, 15)}`;
    const r = await this.c.do('POST', `/v2/${repo}/blobs/uploads/`, { query: { digest }, headers: OCTET, body });
    await this.closed(what, r, digest, body, bad);
  }

  async postPut(repo: string, digest: string, body: Buffer, bad = false): Promise<void> {
    const what = `blob POST+PUT ${digest.slice(0, 15)}`;
    const post = await this.c.do('POST', `/v2/${repo}/blobs/uploads/`);
    if (!this.status(`${what}: POST`, post, 202)) return;
    const put = await this.c.do('PUT', post.headers.get('location')!, { query: { digest }, headers: OCTET, body });
    await this.closed(`${what}: PUT`, put, digest, body, bad);
  }

  async stream(repo: string, digest: string, body: Buffer, bad = false): Promise<void> {
    const what = `blob streamed PATCH ${digest.slice(0, 15)}`;
    const post = await this.c.do('POST', `/v2/${repo}/blobs/uploads/`);
    if (!this.status(`${what}: POST`, post, 202)) return;
    const patch = await this.c.do('PATCH', post.headers.get('location')!, { headers: OCTET, body });
    if (!this.status(`${what}: PATCH`, patch, 202)) return;
    const put = await this.c.do('PUT', patch.headers.get('location')!, { query: { digest }, headers: OCTET });
    await this.closed(`${what}: PUT`, put, digest, body, bad);
  }

  /** BlobPatchChunked: chunks of a third of the blob (at least 1 KiB) with Content-Range. */
  async chunked(repo: string, digest: string, body: Buffer, o: { putLast?: boolean; outOfOrder?: boolean; bad?: boolean } = {}): Promise<void> {
    const what = `blob chunked${o.putLast ? ' (last chunk in the PUT)' : ''}${o.outOfOrder ? ' (out of order)' : ''} ${digest.slice(0, 15)}`;
    const post = await this.c.do('POST', `/v2/${repo}/blobs/uploads/`);
    if (!this.status(`${what}: POST`, post, 202)) return;
    const min = post.headers.get('oci-chunk-min-length');
    let size = Math.max(Math.floor(body.length / 3) + 1, min ? Number(min) : 0, CHUNK_MIN);
    size = Math.min(size, body.length);
    let loc = post.headers.get('location')!;
    let last = -1;
    let done: Fetched | undefined;
    while (last < body.length - 1) {
      if (o.outOfOrder) {
        let badStart = last + 1 + size;
        if (badStart >= body.length) badStart = 0;
        const badLast = Math.min(badStart + size - 1, body.length - 1);
        const method = o.putLast && badLast === body.length - 1 ? 'PUT' : 'PATCH';
        const r = await this.c.do(method, loc, {
          ...(method === 'PUT' && { query: { digest } }),
          headers: { ...OCTET, 'Content-Range': `${badStart}-${badLast}` },
          body: body.subarray(badStart, badLast + 1),
        });
        if (!this.status(`${what}: ${method} of ${badStart}-${badLast} after ${last}`, r, 416)) return;
        if (r.headers.get('location')) loc = r.headers.get('location')!;
        const status = await this.c.do('GET', loc);
        if (!this.status(`${what}: GET status`, status, 204)) return;
        loc = status.headers.get('location') ?? loc;
        const range = status.headers.get('range') ?? '';
        if (!this.expect(`${what}: Range ${range} starts 0-`, range.startsWith('0-'))) return;
        if (last >= 0) this.expect(`${what}: Range ${range} is 0-${last}`, range === `0-${last}`);
      }
      const start = last + 1;
      last = Math.min(start + size - 1, body.length - 1);
      const put = o.putLast && last === body.length - 1;
      const r = await this.c.do(put ? 'PUT' : 'PATCH', loc, {
        ...(put && { query: { digest } }),
        headers: { ...OCTET, 'Content-Range': `${start}-${last}` },
        body: body.subarray(start, last + 1),
      });
      if (put) {
        done = r;
        if (o.bad) return void this.status(`${what}: PUT of the last chunk`, r, 400);
        if (!this.status(`${what}: PUT of the last chunk`, r, 201)) return;
      } else {
        if (!this.status(`${what}: PATCH ${start}-${last}`, r, 202)) return;
        loc = r.headers.get('location') ?? '';
      }
    }
    if (!o.putLast) {
      done = await this.c.do('PUT', loc, { query: { digest }, headers: OCTET });
      if (o.bad) return void this.status(`${what}: PUT`, done, 400);
      if (!this.status(`${what}: PUT`, done, 201)) return;
    }
    this.digestHeader(what, done!, digest);
    await this.location(what, done!, body);
  }

  /** BlobMount: 201 is a mount; a 202 falls back to an upload, which the runner counts as unsupported. */
  async mount(repo: string, from: string | undefined, digest: string, body: Buffer, expectMount = true): Promise<void> {
    const what = `blob mount ${digest.slice(0, 15)}${from ? ` from ${from}` : ' (no from)'}`;
    const r = await this.c.do('POST', `/v2/${repo}/blobs/uploads/`, { query: { mount: digest, ...(from !== undefined && { from }) } });
    if (!this.status(what, r, expectMount ? 201 : 202)) return;
    this.header(what, r, 'location');
    if (!expectMount) {
      const put = await this.c.do('PUT', r.headers.get('location')!, { query: { digest }, headers: OCTET, body });
      this.status(`${what}: PUT after the fallback`, put, 201);
      return;
    }
    this.digestHeader(what, r, digest);
    await this.location(what, r, body);
  }

  async cancel(repo: string): Promise<void> {
    const post = await this.c.do('POST', `/v2/${repo}/blobs/uploads/`);
    if (!this.status('upload cancel: POST', post, 202)) return;
    this.status('upload cancel: DELETE', await this.c.do('DELETE', post.headers.get('location')!), 204);
  }

  /** BlobHeadExists: 200, no body, the length. */
  async headBlob(repo: string, digest: string, body: Buffer | undefined): Promise<void> {
    const what = `blob HEAD ${digest.slice(0, 15)}`;
    const r = await this.c.do('HEAD', `/v2/${repo}/blobs/${digest}`);
    if (!this.status(what, r, 200)) return;
    this.expect(`${what}: no body`, r.body.length === 0);
    if (body) this.header(what, r, 'content-length', String(body.length));
    this.digestHeader(what, r, digest);
  }

  /** BlobGetExistsFull: 200, the bytes, the length. */
  async getBlob(repo: string, digest: string, body: Buffer): Promise<void> {
    const what = `blob GET ${digest.slice(0, 15)}`;
    const r = await this.c.do('GET', `/v2/${repo}/blobs/${digest}`);
    if (!this.status(what, r, 200)) return;
    this.expect(`${what}: the bytes pushed`, r.body.equals(body));
    this.header(what, r, 'content-length', String(body.length));
    this.digestHeader(what, r, digest);
  }

  /** BlobDelete, then "Blob delete atomic": 202 (or 404), and at once a HEAD is 404. */
  async deleteBlob(repo: string, digest: string): Promise<void> {
    const what = `blob DELETE ${digest.slice(0, 15)}`;
    if (!this.status(what, await this.c.do('DELETE', `/v2/${repo}/blobs/${digest}`), 202, 404)) return;
    this.status(`${what}: HEAD after`, await this.c.do('HEAD', `/v2/${repo}/blobs/${digest}`), 404);
  }

  /** ManifestPut: 201, Location reading back the bytes and type, OCI-Subject for a referrer. */
  async putManifest(repo: string, ref: string, digest: string, body: Buffer, o: { subject?: string; bad?: boolean; tags?: string[] } = {}): Promise<void> {
    const what = `manifest PUT ${ref.slice(0, 20)}${o.tags?.length ? ` ?tag=${o.tags.join('&tag=')}` : ''}`;
    const mediaType = mediaTypeOf(body);
    const url = `/v2/${repo}/manifests/${ref}${o.tags?.length ? `?${o.tags.map((t) => `tag=${encodeURIComponent(t)}`).join('&')}` : ''}`;
    const r = await this.c.do('PUT', url, { headers: { 'Content-Type': mediaType }, body });
    if (o.bad) return void this.status(what, r, 400);
    if (!this.status(what, r, 201)) return;
    // TestPushManifestDigest: each tag is one of the OCI-Tag header's values, as Go reads them.
    for (const tag of o.tags ?? [])
      this.expect(`${what}: OCI-Tag values ${JSON.stringify(headerValues(r, 'oci-tag'))} hold ${tag}`, headerValues(r, 'oci-tag').includes(tag));
    if (o.subject) this.header(what, r, 'oci-subject', o.subject);
    this.digestHeader(what, r, digest);
    const loc = r.headers.get('location');
    if (!this.expect(`${what}: Location present`, loc !== null)) return;
    const get = await this.c.do('GET', loc!, { headers: { Accept: MANIFEST_ACCEPT } });
    if (!this.status(`${what}: GET Location`, get, 200)) return;
    this.header(`${what}: GET Location`, get, 'content-type', mediaType);
    this.header(`${what}: GET Location`, get, 'content-length', String(body.length));
    this.expect(`${what}: Location reads the bytes pushed`, get.body.equals(body));
  }

  /** ManifestGetExists / ManifestHeadExists by tag or digest. */
  async readManifest(method: 'GET' | 'HEAD', repo: string, ref: string, digest: string, body: Buffer): Promise<void> {
    const what = `manifest ${method} ${ref.slice(0, 20)}`;
    const r = await this.c.do(method, `/v2/${repo}/manifests/${ref}`, { headers: { Accept: MANIFEST_ACCEPT } });
    if (!this.status(what, r, 200)) return;
    this.header(what, r, 'content-type', mediaTypeOf(body));
    this.header(what, r, 'content-length', String(body.length));
    this.expect(`${what}: body`, method === 'HEAD' ? r.body.length === 0 : r.body.equals(body));
    this.digestHeader(what, r, digest);
  }

  /** ManifestDelete then an immediate HEAD: 202 (404 when gone already), then 404. */
  async deleteManifest(repo: string, ref: string): Promise<void> {
    const what = `manifest DELETE ${ref.slice(0, 20)}`;
    if (!this.status(what, await this.c.do('DELETE', `/v2/${repo}/manifests/${ref}`), 202, 404)) return;
    const head = await this.c.do('HEAD', `/v2/${repo}/manifests/${ref}`, { headers: { Accept: MANIFEST_ACCEPT } });
    this.status(`${what}: HEAD after`, head, 404);
  }
}

/** detectMediaType: the document's mediaType, an image manifest's when it has none. */
export function mediaTypeOf(body: Buffer): string {
  try {
    return (JSON.parse(body.toString()) as { mediaType?: string }).mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
  } catch {
    return 'application/vnd.oci.image.manifest.v1+json';
  }
}

export function subjectOf(body: Buffer): string | undefined {
  try {
    return (JSON.parse(body.toString()) as { subject?: { digest: string } }).subject?.digest;
  } catch {
    return undefined;
  }
}
