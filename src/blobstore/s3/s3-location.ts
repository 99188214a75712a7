/**
 * Where the s3 driver keeps blobs: `s3://bucket/prefix` plus the settings a URL cannot carry.
 * Parsing is pure (no environment, no network) so that config validation can name a bad key at
 * start; building the SDK client is separate, in s3-client.ts, so that parsing (and the CLI's
 * error handling) does not load the AWS SDK.
 */

export type BlobRedirect = 'stream' | 'presign';

export interface S3LocationOptions {
  /** An S3-compatible endpoint (Ceph RGW, MinIO); absent means AWS S3 itself. */
  endpoint?: string;
  region?: string;
  /** Both or neither; neither means the SDK's default credential chain (env, profile, IMDS...). */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Path-style addressing (`endpoint/bucket/key`); defaults to on with a custom endpoint. */
  forcePathStyle?: boolean;
  /** How `/v2` blob GETs are answered: streamed through Berth, or 307 to a presigned URL. */
  redirect?: BlobRedirect;
  /** The endpoint presigned URLs name, when clients reach the store by another address. */
  presignEndpoint?: string;
  /** Bytes per staged part (≥ 5 MiB); the most an upload in progress holds in memory. */
  partSize?: number;
}

export interface S3Location {
  bucket: string;
  /** Key prefix without leading or trailing slashes; '' for the bucket's root. */
  prefix: string;
  endpoint?: string;
  region: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  forcePathStyle: boolean;
  redirect: BlobRedirect;
  presignEndpoint?: string;
  partSize: number;
  /** Server-side encryption asked of S3 for every object written: SSE-S3 or SSE-KMS (a key the store's KMS holds). */
  sse?: ServerSideEncryption;
  /** The S3 storage class committed blobs are written with (the archive's); the bucket's default when absent. */
  storageClass?: string;
}

export type ServerSideEncryption = { type: 'AES256' } | { type: 'aws:kms' | 'aws:kms:dsse'; keyId?: string };

export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** distribution's s3 driver default; 10,000 parts of it already exceed most layers. */
export const DEFAULT_PART_SIZE = 10 * 1024 * 1024;
const MAX_PART_SIZE = 512 * 1024 * 1024;

/** Bucket names as AWS allows them, plus `_`, which Ceph accepts under relaxed naming. */
const BUCKET_RE = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
/** Conservative, so a prefix needs no escaping in a key, a copy source or a presigned URL. */
const PREFIX_SEGMENT_RE = /^[A-Za-z0-9._-]+$/;
const REGION_RE = /^[a-z0-9-]+$/;

export class S3LocationError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
    this.name = 'S3LocationError';
  }
}

/**
 * Parses `s3://bucket[/prefix]` and its options. Errors are S3LocationError naming the option
 * (`url`, `endpoint`, ...) so that the config layer can translate it to its own key.
 */
export function parseS3Location(url: string, opts: S3LocationOptions = {}): S3Location {
  // Parsed by hand: URL would resolve `a/../b` to `b` and lower-case the bucket, hiding typos.
  const m = /^s3:\/\/([^/?#]*)([^?#]*)([?#].*)?$/.exec(url);
  if (!m) throw new S3LocationError('url', `expected s3://bucket/prefix, got ${JSON.stringify(url)}`);
  const [, bucket = '', rawPath = '', rest] = m;
  if (bucket.includes('@')) throw new S3LocationError('url', 'credentials do not belong in the URL; use the access key options');
  if (bucket.includes(':') || rest) throw new S3LocationError('url', 'expected s3://bucket/prefix with no port, query or fragment');
  if (!BUCKET_RE.test(bucket) || bucket.includes('..')) {
    throw new S3LocationError('url', `invalid bucket name ${JSON.stringify(bucket)}`);
  }
  const path = rawPath.replace(/^\/+|\/+$/g, '');
  const segments = path === '' ? [] : path.split('/');
  for (const s of segments) {
    if (!PREFIX_SEGMENT_RE.test(s) || s === '.' || s === '..') {
      throw new S3LocationError('url', `invalid prefix ${JSON.stringify(path)}: segments of A-Z a-z 0-9 . _ - only`);
    }
  }

  const endpoint = opts.endpoint ? httpUrl('endpoint', opts.endpoint) : undefined;
  const presignEndpoint = opts.presignEndpoint ? httpUrl('presignEndpoint', opts.presignEndpoint) : undefined;
  // RGW and MinIO ignore the region but SigV4 still needs one; AWS itself must be told.
  const region = opts.region ?? 'us-east-1';
  if (!REGION_RE.test(region)) throw new S3LocationError('region', `invalid region ${JSON.stringify(region)}`);

  if (!!opts.accessKeyId !== !!opts.secretAccessKey) {
    throw new S3LocationError(opts.accessKeyId ? 'secretAccessKey' : 'accessKeyId', 'set both access key options or neither');
  }
  if (opts.sessionToken && !opts.accessKeyId) throw new S3LocationError('sessionToken', 'needs accessKeyId and secretAccessKey');

  const redirect = opts.redirect ?? 'stream';
  if (redirect !== 'stream' && redirect !== 'presign') {
    throw new S3LocationError('redirect', `expected 'stream' or 'presign', got ${JSON.stringify(redirect)}`);
  }
  const partSize = opts.partSize ?? DEFAULT_PART_SIZE;
  if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
    throw new S3LocationError('partSize', `must be an integer from ${MIN_PART_SIZE} (5 MiB, S3's minimum) to ${MAX_PART_SIZE}`);
  }

  return {
    bucket,
    prefix: segments.join('/'),
    ...(endpoint && { endpoint }),
    region,
    ...(opts.accessKeyId &&
      opts.secretAccessKey && {
        credentials: {
          accessKeyId: opts.accessKeyId,
          secretAccessKey: opts.secretAccessKey,
          ...(opts.sessionToken && { sessionToken: opts.sessionToken }),
        },
      }),
    // Virtual-host addressing needs wildcard DNS, which RGW and MinIO setups rarely have.
    forcePathStyle: opts.forcePathStyle ?? endpoint !== undefined,
    redirect,
    ...(presignEndpoint && { presignEndpoint }),
    partSize,
  };
}

function httpUrl(key: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new S3LocationError(key, `not a URL: ${JSON.stringify(value)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new S3LocationError(key, 'must be an http(s) URL');
  if (u.search || u.hash || u.username) throw new S3LocationError(key, 'must have no query, fragment or credentials');
  return value.replace(/\/+$/, '');
}
