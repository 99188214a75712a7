/**
 * The real app, in the test's own process: the composition `berth serve` runs (createApp), on
 * an ephemeral loopback port over real HTTP, with SQLite in memory and the memory blob store
 * (real drivers, each held to its contract suite; nothing mocked). It starts in milliseconds,
 * so API behaviour is tested here; the spawned-process tests in test/e2e keep what needs a real
 * process or a real client tool (skopeo, the aws CLI, crashes, signals, the CLI itself).
 *
 * The data directory is a temporary one all the same: the server key and the bootstrap admin's
 * credentials file live there, as on a real node. With `onDisk` the stores live there too, as
 * `berth serve` keeps them (SQLite file, file-system blob driver).
 */
import { GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createApp, type App } from '../../../src/app/app.js';
import type { Clock } from '../../../src/core/clock.js';
import { createMemoryBlobStore } from '../../../src/blobstore/memory/memory-blob-store.js';
import type { BlobStore } from '../../../src/blobstore/blob-store.js';
import { loadConfig } from '../../../src/config/load.js';
import { createSqliteMetadataStore } from '../../../src/metadata/sqlite/sqlite-store.js';
import { LOCAL_OUTBOUND } from '../../e2e/helpers/berth-process.js';
import { ecrClient } from '../../e2e/helpers/ecr-client.js';
import { forgetLogin, rememberLogin } from '../../e2e/helpers/logins.js';

export interface BerthInProcess {
  readonly url: string;
  /** host:port. */
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly region: string;
  /** `Basic <base64 AWS:token>` for /v2, from GetAuthorizationToken with the admin key. */
  readonly authorization: string;
  readonly app: App;
  /** Everything the server logged so far (JSON lines, at BERTH_LOG_LEVEL, default warn). */
  output(): string;
  /** Closes the server and removes the data directory. */
  cleanup(): Promise<void>;
}

export interface InProcessOptions {
  /** Settings as `berth serve` reads them from the environment (BERTH_*). */
  env?: Record<string, string>;
  /** The app's clock (the system clock when unset). */
  clock?: Clock;
  /** SQLite in `<data dir>/metadata.db`, as `berth serve` keeps it (so `berth admin` and a test can read it), instead of in memory. */
  sqliteFile?: boolean;
  /**
   * SQLite and the blobs in the data directory, as `berth serve` keeps them: for tests that open
   * the data directory from another process too (`berth admin`), or whose subject includes the
   * file-system driver. Memory otherwise.
   */
  onDisk?: boolean;
  /**
   * Start on this existing data directory instead of a new temporary one (a restart, on what a
   * node before it left there); cleanup leaves it for the test to remove.
   */
  dataDir?: string;
  /** The address to listen on (127.0.0.1 by default; '::' is dual-stack, where an IPv4 client is ::ffff:a.b.c.d). Clients use 127.0.0.1 either way. */
  host?: string;
}

export async function startInProcess(opts: InProcessOptions = {}): Promise<BerthInProcess> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'berth-api-')));
  const removeDataDir = () => (opts.dataDir === undefined ? rm(dataDir, { recursive: true, force: true }) : Promise.resolve());
  const env = { BERTH_LOG_LEVEL: 'warn', ...LOCAL_OUTBOUND, ...opts.env, BERTH_DATA_DIR: dataDir, BERTH_HOST: opts.host ?? '127.0.0.1', BERTH_PORT: '0' };
  const config = loadConfig({ env });
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  // One memory store per local blob directory, as the fs driver would have one per directory.
  const stores = new Map<string, BlobStore>();
  const inMemory = {
    openMetadata: async () => createSqliteMetadataStore({ path: opts.sqliteFile ? join(dataDir, 'metadata.db') : ':memory:' }),
    localBlobStore: (root: string) => {
      let store = stores.get(root);
      if (!store) stores.set(root, (store = createMemoryBlobStore()));
      return store;
    },
  };
  const app = await createApp(config, {
    log: pino({ level: config.logLevel, base: { service: 'berth' } }, sink),
    ...(opts.clock && { clock: opts.clock }),
    ...(!opts.onDisk && inMemory),
  });
  let port: number;
  try {
    port = await app.listen();
  } catch (e) {
    await app.close().catch(() => undefined);
    await removeDataDir();
    throw e;
  }
  const url = `http://127.0.0.1:${port}`;
  const region = config.region;
  const token = (await ecrClient({ url, dataDir, region }).send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0]?.authorizationToken;
  if (!token) throw new Error('GetAuthorizationToken returned no token');
  const authorization = `Basic ${token}`;
  rememberLogin(url, authorization);
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    dataDir,
    region,
    authorization,
    app,
    output: () => out,
    async cleanup() {
      forgetLogin(url);
      await app.close();
      await removeDataDir();
    },
  };
}
