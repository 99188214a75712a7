/**
 * A throwaway PostgreSQL for tests, started by scripts/postgres-test.sh (initdb into a temporary
 * directory, a free loopback port, fsync off) and stopped when the tests are done. Set
 * BERTH_TEST_DATABASE_URL to use an existing server instead (its database must be disposable:
 * tests create and drop schemas in it).
 *
 * Each test database is a fresh schema in that one database, reached through a connection
 * string that sets search_path: creating one costs a few milliseconds, far less than a
 * CREATE DATABASE. Migrating it costs more (~150 ms), so a suite may reuse one and empty() it
 * between tests.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export interface TestDatabase {
  /** Connection string whose default schema is this test's own. */
  connectionString: string;
  /** Empties every table but schema_migrations (and restarts ids): a used database made new. */
  empty(): Promise<void>;
  drop(): Promise<void>;
}

export interface TestPostgres {
  /** The server's test database (public schema). */
  url: string;
  newDatabase(opts?: { database?: string }): Promise<TestDatabase>;
  /** Runs SQL as the superuser on the test database (e.g. to create another database). */
  admin(sql: string): Promise<void>;
  stop(): Promise<void>;
}

/** Exit status of postgres-test.sh when no PostgreSQL is installed. */
const NOT_INSTALLED = 3;

function script(): string {
  // dist/src/metadata/postgres/testing/ or src/metadata/postgres/testing/: walk up to the repo.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'scripts', 'postgres-test.sh');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('scripts/postgres-test.sh not found above ' + fileURLToPath(import.meta.url));
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', [script(), ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/**
 * Starts (or connects to) the test server. Undefined, after a loud warning, only when no
 * PostgreSQL is installed and BERTH_REQUIRE_POSTGRES is not set; any other failure throws.
 */
export async function startTestPostgres(): Promise<TestPostgres | undefined> {
  let url = process.env.BERTH_TEST_DATABASE_URL;
  let stop = async (): Promise<void> => undefined;
  if (!url) {
    // Directly under the temp dir: as root the cluster runs as `postgres`, which must reach it
    // (the script hands this directory to that user and removes it on stop).
    const dir = mkdtempSync(join(tmpdir(), 'berth-pg-'));
    const started = await run(['start', dir]);
    if (started.code !== 0) rmSync(dir, { recursive: true, force: true });
    if (started.code === NOT_INSTALLED && process.env.BERTH_REQUIRE_POSTGRES !== '1') {
      const line = '!'.repeat(100);
      console.error(`${line}\n!!! PostgreSQL is not installed: the PostgreSQL metadata tests are SKIPPED.\n!!! ${started.stderr.trim()}\n${line}`);
      return undefined;
    }
    if (started.code !== 0) throw new Error(`postgres-test.sh start failed (${started.code}):\n${started.stderr}`);
    url = started.stdout.trim();
    let stopped = false;
    // If the test process dies without the after-hook, the exit hook still stops the server.
    const stopSync = () => {
      if (stopped) return;
      stopped = true;
      try {
        execFileSync('bash', [script(), 'stop', dir], { stdio: 'ignore', timeout: 30_000 });
      } catch {
        /* best effort */
      }
    };
    process.once('exit', stopSync);
    stop = async () => {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', stopSync);
      await run(['stop', dir]);
    };
  }
  const serverUrl = url;
  const admin = new pg.Pool({ connectionString: serverUrl, max: 2 });
  admin.on('error', () => undefined);
  let counter = 0;
  return {
    url: serverUrl,
    async admin(sql) {
      await admin.query(sql);
    },
    async newDatabase(opts = {}) {
      const schema = `berth_test_${process.pid}_${++counter}_${Date.now().toString(36)}`;
      const base = new URL(serverUrl);
      if (opts.database) base.pathname = `/${opts.database}`;
      const owner = opts.database ? new pg.Pool({ connectionString: base.toString(), max: 1 }) : admin;
      await owner.query(`CREATE SCHEMA ${schema}`);
      base.searchParams.set('options', `-c search_path=${schema}`);
      return {
        connectionString: base.toString(),
        async empty() {
          const tables = await owner.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_migrations'", [
            schema,
          ]);
          if (tables.rows.length === 0) return;
          await owner.query(`TRUNCATE ${tables.rows.map((r) => `${schema}.${r.t}`).join(', ')} RESTART IDENTITY CASCADE`);
        },
        async drop() {
          await owner.query(`DROP SCHEMA ${schema} CASCADE`);
          if (owner !== admin) await owner.end();
        },
      };
    },
    async stop() {
      await admin.end();
      await stop();
    },
  };
}
