/**
 * The one configuration schema. Defaults give a working single-node registry (SQLite and blobs
 * under ./data); every value can come from a JSON file, then BERTH_* environment variables, then
 * CLI flags. Validation errors name the offending key.
 */
import { z } from 'zod';
import { parseCidr } from '../core/outbound-reach.js';

const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** A JSON object given whole (config file) or as JSON text (environment variable, flag). */
const jsonText = <T extends z.ZodTypeAny>(inner: T) =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v;
    }
  }, inner);

/** CIDR blocks (a bare address is a /32 or /128): a JSON array, or a comma-separated list from the environment. */
const cidrList = z
  .preprocess(
    (v) =>
      typeof v === 'string'
        ? v.trim().startsWith('[')
          ? (JSON.parse(v) as unknown)
          : v
              .split(',')
              .map((c) => c.trim())
              .filter((c) => c !== '')
        : v,
    z.array(
      z.string().refine((c) => {
        try {
          parseCidr(c);
          return true;
        } catch {
          return false;
        }
      }, 'must be an IP address or a CIDR block such as 10.0.0.0/8'),
    ),
  )
  .default([]);

export const configSchema = z
  .object({
    host: z.string().min(1).default('0.0.0.0'),
    port: int(0, 65535).default(5000),
    dataDir: z.string().min(1).default('./data'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** pino JSON lines, or one readable line per entry; unset: readable when stdout is a terminal, JSON otherwise. */
    logFormat: z.enum(['json', 'pretty']).optional(),
    /** A file the access log (one JSON line per request) is appended to, besides standard output. */
    accessLog: z.string().min(1).optional(),
    /**
     * Every answer carries `Server-Timing: total;dur=<ms>, cpu;dur=<ms>`, the time from the
     * request's arrival to its headers and the main thread's CPU over it: for benches telling the
     * server's time from the machine's. Off by default: AWS sends no such header, and it tells any
     * caller how long each answer took to make.
     */
    serverTiming: bool.default(false),
    /**
     * The audit trail (CloudTrail's records of every API call, read with LookupEvents) keeps
     * records this many days; 0 turns the trail off.
     */
    auditRetentionDays: int(0, 3650).default(90),
    /** A file the audit trail is also appended to, one CloudTrail record per JSON line; reopened on SIGHUP. */
    auditLog: z.string().min(1).optional(),
    /** A manifest pushed to a repository that does not exist creates it. */
    createOnPush: bool.default(true),
    /** Blob and manifest DELETE on /v2. */
    deleteEnabled: bool.default(true),
    /** POST ?mount= without `from` mounts any blob the caller may read. */
    autoMount: bool.default(true),
    /** Upload sessions open in the whole deployment, all accounts together: a ceiling for the machine (each account's share is the uploadSessions quota). */
    maxUploadSessions: int(1, 1_000_000).default(10_000),
    maxManifestBytes: int(1024, 64 * 1024 * 1024).default(4 * 1024 * 1024),
    /** ECR's layer-size limit is 52,000 MiB. */
    maxBlobBytes: int(1, Number.MAX_SAFE_INTEGER).default(52_000 * 1024 * 1024),
    /** Maximum page size for tag and catalog listings. */
    maxPageSize: int(1, 100_000).default(1000),
    /** Default registry (account) for /v2 requests that do not name one. */
    defaultAccountId: z
      .string()
      .regex(/^\d{12}$/, 'must be 12 digits')
      .default('000000000000'),
    /** host[:port] clients use to reach the registry, for repository URIs; default: the request's Host. */
    registryHost: z
      .string()
      .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be host or host:port')
      .optional(),
    /**
     * What a 401 on /v2 asks for: 'bearer' names the token endpoint (/token), so docker pulls
     * public repositories with no login; 'basic' is ECR's private-registry challenge, for clients
     * that cannot follow a token realm. Basic credentials sent unasked are accepted either way.
     */
    v2Challenge: z.enum(['bearer', 'basic']).default('bearer'),
    /** PostgreSQL for the metadata (postgres://user:pass@host/db); SQLite under dataDir when unset. Never logged. */
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    /** Connections per node; keep nodes × pool size under the server's max_connections. */
    databasePoolSize: int(1, 1000).default(10),
    /** Blobs in S3-compatible storage (s3://bucket/prefix); the local disk under dataDir when unset. */
    storage: z
      .string()
      .regex(/^s3:\/\/[^/]+/, 'must be s3://bucket[/prefix]')
      .optional(),
    /** An S3-compatible endpoint (Ceph RGW, MinIO); unset means AWS S3. */
    s3Endpoint: z.string().url().optional(),
    s3Region: z.string().min(1).optional(),
    /** Both or neither; neither uses the AWS SDK's default credential chain. Never logged. */
    s3AccessKeyId: z.string().min(1).optional(),
    s3SecretAccessKey: z.string().min(1).optional(),
    s3SessionToken: z.string().min(1).optional(),
    s3ForcePathStyle: bool.optional(),
    /** The endpoint presigned URLs name, when clients reach the store by another address. */
    s3PresignEndpoint: z.string().url().optional(),
    s3PartSize: int(5 * 1024 * 1024, 512 * 1024 * 1024).optional(),
    /** Blob GETs on /v2: streamed through Berth, or a 307 to a presigned URL (S3 only). */
    blobRedirect: z.enum(['stream', 'presign']).default('stream'),
    /**
     * Where KMS repositories' keys live: 'berth' keys are created with `berth admin create-kms-key`
     * and kept in the metadata sealed under the server key; 's3' passes kmsKey to the object store
     * as SSE-KMS (AWS KMS on AWS S3, the configured KMS of Ceph RGW or MinIO), 's3' needs storage;
     * 'aws' takes keys from an AWS KMS endpoint (GenerateDataKey/Decrypt, credentials from the SDK's chain).
     */
    kmsProvider: z.enum(['berth', 's3', 'aws']).default('berth'),
    /** With kmsProvider 'aws': the KMS endpoint (unset means AWS KMS itself) and its region (default: region). */
    kmsEndpoint: z.string().url().optional(),
    kmsRegion: z
      .string()
      .regex(/^[a-z0-9-]+$/, 'must be a region name')
      .optional(),
    /** Base64 of 32 bytes shared by every node; generated under dataDir when unset. */
    serverKey: z.string().optional(),
    /** Every repository with a lifecycle policy is evaluated this often (one node at a time); 0 turns it off. */
    lifecycleIntervalSeconds: int(0, 30 * 86400).default(3600),
    /** The garbage collector's pass interval (one node at a time); 0 turns it off. */
    gcIntervalSeconds: int(0, 30 * 86400).default(600),
    /** How long an unreferenced blob waits before it is deleted; a push, HEAD or mount restarts the wait. */
    gcGraceSeconds: int(0, 365 * 86400).default(86400),
    /** Upload sessions idle this long are abandoned: their staged bytes are reclaimed. */
    uploadMaxAgeSeconds: int(60, 365 * 86400).default(86400),
    /**
     * A durable job's lock (scans, replication, backfills, archive moves, signing), renewed every third of
     * it while the job runs: how long the jobs of a node that died wait before another node takes them.
     */
    jobLeaseSeconds: int(3, 3600).default(30),
    /** Image scans this node runs at once. */
    scanConcurrency: int(1, 64).default(1),
    /**
     * The most slots of each job worker of a node (scans, replication, archive moves, signing)
     * one account's jobs hold at once; unset: all but one of each worker's slots (1 of 1).
     */
    jobSlotsPerAccount: int(1, 64).optional(),
    /**
     * Where URLs users name (pull-through upstreams, API destinations and their OAuth endpoints,
     * OIDC issuers) may take Berth's requests, over the defaults of src/core/outbound-reach.ts
     * (link-local — the cloud metadata service —, loopback, unspecified, multicast and reserved
     * addresses refused; everything else, private ranges included, reached): CIDRs reached
     * anyway (e.g. ["127.0.0.0/8"] for a local upstream), and CIDRs never reached (these win).
     * A JSON array or a comma-separated list.
     */
    outboundAllow: cidrList,
    outboundDeny: cidrList,
    /**
     * Events (EventBridge API destinations): an http:// InvocationEndpoint is accepted only on a
     * loopback address unless this is set (events and connection credentials cross the network in clear).
     */
    eventsAllowHttp: bool.default(false),
    /**
     * Pull-through cache: an http:// upstreamRegistryUrl is accepted only for a loopback upstream
     * unless this is set (upstream credentials and content would cross the network in clear).
     */
    pullThroughAllowHttp: bool.default(false),
    /** Pull-through cache: a cached tag is checked upstream again at most this often (ECR: about daily). */
    pullThroughTagRecheckSeconds: int(0, 365 * 86400).default(86400),
    /**
     * Pull-through cache: an upstream that sends no answer (or no bytes of a body) for this long
     * has failed; connecting is bounded at 10 s within it.
     */
    pullThroughUpstreamTimeoutSeconds: int(1, 300).default(30),
    /** Pull-through cache: blob fetches from upstream in flight on a node (each spools at most maxLayerBytes). */
    pullThroughMaxFetches: int(1, 1024).default(32),
    /** Event deliveries this node makes at once. */
    eventsDeliveryConcurrency: int(1, 256).default(8),
    /**
     * Slow clients. A request's headers must be complete within headersTimeoutSeconds; a
     * connection with no request in progress (new, or kept alive between requests) is closed after
     * idleTimeoutSeconds; while Berth reads a request body, every bodyTimeoutSeconds at least
     * bodyMinBytesPerSecond × bodyTimeoutSeconds bytes must arrive (at least one), else the
     * connection is closed. No total-time cap, so a large upload at any honest rate completes.
     */
    headersTimeoutSeconds: int(1, 3600).default(60),
    idleTimeoutSeconds: int(1, 3600).default(65),
    bodyTimeoutSeconds: int(1, 3600).default(20),
    bodyMinBytesPerSecond: int(0, 1024 * 1024 * 1024).default(256),
    /**
     * While a response waits on its client (Berth has bytes the client has not taken), every
     * responseTimeoutSeconds the client must take at least responseMinBytesPerSecond ×
     * responseTimeoutSeconds bytes (at least one), else the connection is cut (h2: the stream is
     * reset). Time the response waits on Berth (the store) does not count; no total-time cap.
     */
    responseTimeoutSeconds: int(1, 3600).default(60),
    responseMinBytesPerSecond: int(0, 1024 * 1024 * 1024).default(256),
    /** Connections a node keeps open at once (HTTP/1.1 and h2 alike); more are closed as they arrive. 0: no bound. */
    maxConnections: int(0, 1_000_000).default(4096),
    /**
     * Connections a node keeps open at once from one client address; more from it are closed as
     * they arrive. 0: no bound (the default: behind a load balancer every connection has the
     * balancer's address).
     */
    maxConnectionsPerSource: int(0, 1_000_000).default(0),
    /**
     * Bytes of buffers blob downloads in flight may hold at once (encrypted downloads' rings of
     * deciphered slots, plaintext and S3 bodies' read buffers): full rings within half of it,
     * lean ones (two chunks) beyond; with no room a download waits up to 5 s, then is answered
     * 429 with Retry-After.
     */
    downloadBufferBytes: int(1024 * 1024, 2 ** 40).default(256 * 1024 * 1024),
    /**
     * Bytes of manifests being sent that their clients have not yet taken, at once (a budget of
     * their own, so that a manifest GET never queues behind blob downloads); past it, as above.
     * A manifest larger than it is sent alone.
     */
    manifestBufferBytes: int(1024 * 1024, 2 ** 40).default(32 * 1024 * 1024),
    /** Prometheus metrics (GET /metrics) on a listener of their own at this port; off when unset (0: any free port). */
    metricsPort: int(0, 65535).optional(),
    /**
     * The metrics listener's address; default loopback. Metrics carry no credentials and name every
     * account's repositories, so they reach the network only when an operator says where.
     */
    metricsHost: z.string().min(1).default('127.0.0.1'),
    /** How often storage is sampled per repository for `berth usage` (one node at a time); 0 turns it off. */
    usageSampleIntervalSeconds: int(0, 86400).default(3600),
    /** Requests an h2 session (HTTPS) may have in flight at once; more streams are refused (RST_STREAM REFUSED_STREAM). */
    http2MaxConcurrentStreams: int(1, 10_000).default(100),
    /** The largest request header section, on HTTP/1.1 (431) and h2 (SETTINGS_MAX_HEADER_LIST_SIZE). */
    maxHeaderBytes: int(4096, 1024 * 1024).default(16 * 1024),
    /**
     * An encrypted download from local files is opened on two byte threads while neither has
     * another download: more MB/s with a core to spare, a little more CPU per GiB (off: one thread).
     */
    stripedDownloads: bool.default(false),
    /**
     * An encrypted download from local files to a plain HTTP/1.1 connection is written to the
     * socket by the byte thread that opens it (no TLS, no h2); one whose client takes no bytes
     * for responseTimeoutSeconds is cut (off: the main thread writes every download). On since
     * session 19: ~0.64x the server's CPU per GiB of a curl download, the rate no lower
     * (notes/2026-12-05-s19-sends.md).
     */
    threadSends: bool.default(true),
    /**
     * With threadSends, a download's send(2)s are made by a thread of the send-pipe addon (the
     * byte thread's send pipe) while the byte thread opens the next pieces, instead of in turn on
     * the byte thread. On since session 20: 1.35-1.5x the rate of curl downloads and Node-client
     * pulls on the shared machine, at 1.13-1.33x the server's CPU per GiB of a download (a third
     * busy thread; the plaintext crosses cores): notes/2026-12-05-s20-pipe.md.
     */
    sendPipe: bool.default(true),
    /**
     * The send pipe's threads run as SCHED_BATCH: woken when a piece is queued, the pipe's thread
     * does not preempt the byte thread that queued it, but runs on an idle CPU or once that thread
     * sleeps. Off, the byte thread was switched out at most wake-ups (~1,900 involuntary switches
     * per GiB downloaded against ~550 with it; notes/2026-12-06-s26-down.md).
     */
    sendPipeBatch: bool.default(true),
    /**
     * Where the CPU has AVX2, AES-NI, PCLMUL, VAES and VPCLMULQDQ (AMD Zen 3 and later, Intel Ice
     * Lake and later), the native AES-GCM opener and sealer run their own GCM: AES-CTR and GHASH
     * on 256-bit registers (native/gcm-avx2.h), the same bytes as OpenSSL's (off: OpenSSL's GCM,
     * whose GHASH is 128-bit there without AVX-512). About 1.9x OpenSSL's GCM on one Zen 3 core:
     * notes/2026-12-06-s24-ghash.md.
     */
    gcmAvx2: bool.default(true),
    /**
     * How a download reads its blob file's sealed bytes before deciphering them: `pread` (into a
     * buffer of its byte thread) or `mapped` (the file's page-cache pages mapped in windows,
     * deciphered where they are; blobstore/encrypted/mapped-file.ts). A mapping costs a fault per
     * few pages and, on a VM, a TLB fill per 4 KiB page, unless the page cache holds the file in
     * 2 MiB folios; uploads write a blob in writes of a few chunks, so it holds small ones. On
     * the session-22 machine (a PVM guest) the byte thread spent 0.9-1.0 CPU-s per GiB of a curl
     * download mapped, 0.3-0.4 with preads: notes/2026-12-06-s22-down.md.
     */
    downloadReads: z.enum(['pread', 'mapped']).default('pread'),
    /**
     * How a download from local files opens them (blobstore/fs/sync-gate.ts): auto switches
     * between the event loop (fast disks) and the thread pool (slow ones) on measured durations;
     * inline and async fix one way.
     */
    blobOpen: z.enum(['auto', 'inline', 'async']).default('auto'),
    /** How long a node may reuse policies it read; writes on the node itself are seen at once. */
    authzCacheSeconds: int(0, 3600).default(5),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must look like us-east-1')
      .default('us-east-1'),
    /**
     * Peer regions (other Berth deployments sharing serverKey) that replication pushes to: JSON
     * `{"eu-west-1": {"endpoint": "https://..."}}`. http:// is accepted (loopback, trusted
     * networks) with a warning. This deployment's own region defaults to its own listener.
     */
    regions: z
      .preprocess(
        (v, ctx) => {
          if (typeof v !== 'string') return v;
          try {
            return JSON.parse(v) as unknown;
          } catch {
            ctx.addIssue({ code: 'custom', message: 'must be JSON: {"<region>": {"endpoint": "https://..."}}' });
            return z.NEVER;
          }
        },
        z.record(
          z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must look like us-east-1'),
          z
            .object({
              endpoint: z
                .string()
                .url()
                .regex(/^https?:\/\//, 'must be an http(s):// URL'),
            })
            .strict(),
        ),
      )
      .default({}),
    /** A replication to a destination that is down is retried after this many seconds, then backs off (doubling, up to an hour). */
    replicationRetrySeconds: int(1, 86400).default(30),
    /** Replication jobs this node runs at once. */
    replicationConcurrency: int(1, 64).default(4),
    /** HTTPS on the same port: PEM certificate (chain) and key files, both or neither; re-read on SIGHUP and on change. */
    tlsCert: z.string().min(1).optional(),
    tlsKey: z.string().min(1).optional(),
    /**
     * Service quotas for the whole deployment, over ECR's defaults (registry/quotas.ts lists the
     * names), e.g. {"repositoriesPerRegistry": 100000}; `berth admin set-quota` sets one account's.
     */
    quotas: jsonText(z.record(z.string(), z.number().int().min(0))).optional(),
    /**
     * API rates per account and operation, in requests per second with a burst of the same
     * size: "ecr" for ECR's published rates, or JSON of operation → rate (e.g.
     * {"DescribeRepositories": 2}; "ecr" can be a key too: {"ecr": true, "PutImage": 50}).
     * Unset: nothing is throttled.
     */
    apiRates: z.union([z.literal('ecr'), jsonText(z.record(z.string(), z.union([z.number().positive(), z.literal(true)])))]).optional(),
    /** How many nodes share apiRates: each node allows its share (rate ÷ nodes) on its own. */
    apiRateNodes: int(1, 10_000).default(1),
    /** The built web console served at /console/ (index.html and assets/); default: dist/console of the installed package. */
    consoleDir: z.string().min(1).optional(),
    /** A console session ends this many hours after sign-in, as login tokens do. */
    consoleSessionHours: int(1, 12).default(12),
    /** ... or after this many minutes without a call. */
    consoleIdleMinutes: int(5, 720).default(60),
    /**
     * Where the bytes of archived images go (the archive storage class): a directory when blobs
     * are on the local disk (default <dataDir>/archive), s3://bucket[/prefix] when they are on S3
     * (default: the storage's bucket, under <prefix>/archive).
     */
    archiveStorage: z.string().min(1).optional(),
    /**
     * With storage on S3: the S3 storage class archived blobs are written with. Only classes read
     * without a restore request: Berth serves a shared layer from the archive until it moves back.
     */
    archiveS3StorageClass: z.enum(['STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'REDUCED_REDUNDANCY']).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.tlsCert === undefined) !== (c.tlsKey === undefined)) {
      const missing = c.tlsCert === undefined ? 'tlsCert' : 'tlsKey';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'tlsCert and tlsKey go together: set both or neither' });
    }
    const archiveOnS3 = c.archiveStorage?.startsWith('s3://');
    if (c.archiveStorage !== undefined && archiveOnS3 !== (c.storage !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['archiveStorage'],
        message:
          c.storage === undefined
            ? 'with blobs on the local disk, archiveStorage is a directory'
            : 'with storage on S3, archiveStorage is s3://bucket[/prefix]',
      });
    }
    if (archiveOnS3 && !/^s3:\/\/[^/]+/.test(c.archiveStorage!))
      ctx.addIssue({ code: 'custom', path: ['archiveStorage'], message: 'must be s3://bucket[/prefix]' });
    if (c.archiveS3StorageClass !== undefined && c.storage === undefined) {
      ctx.addIssue({ code: 'custom', path: ['archiveS3StorageClass'], message: 'archiveS3StorageClass needs storage on S3' });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** BERTH_FOO_BAR ↔ fooBar for every key of the schema. */
export function envNameOf(key: string): string {
  return 'BERTH_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

export const configKeys = Object.keys(configSchema.shape) as Array<keyof Config>;
