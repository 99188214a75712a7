/**
 * The connection pool and the transaction helper every PostgreSQL role store runs on.
 *
 * Isolation: most operations run at READ COMMITTED and get their race-freedom from explicit row
 * locks taken in a fixed order (see postgres-store.ts for the order and why), because a lock
 * makes a competing node wait a few milliseconds where SERIALIZABLE would abort and redo its
 * work (a manifest put carries up to 4 MiB). withTransaction still retries serialization
 * failures (40001) and deadlocks (40P01): REPEATABLE READ snapshots can raise the former, and
 * the latter is PostgreSQL's answer to any lock cycle we failed to rule out.
 */
import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';

export type Isolation = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

/** What a store needs: the pool, and the collation suffix for byte-order listings. */
export interface PgContext {
  pool: pg.Pool;
  /**
   * '' when the database's collation already sorts by bytes (C/POSIX), else ` COLLATE "C"`:
   * listings are in byte order on every engine (SQLite's BINARY), whatever the database's locale.
   */
  collate: string;
}

/** A connection inside a transaction (or the pool itself for single statements). */
export type Queryable = Pick<PoolClient, 'query'>;

const INT8_OID = 20;

/**
 * BIGINT arrives as a string (it may exceed 2^53). Every BIGINT here is an epoch-ms timestamp,
 * a byte size, a count or an id, all far below 2^53, so it is parsed to a number, and one that
 * is not a safe integer fails loudly instead of rounding silently.
 */
function parseInt8(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new Error(`BIGINT out of the safe integer range: ${s}`);
  return n;
}

/** Per-pool type parsers: pg's global parser table is left alone for any other user of pg. */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID && format !== 'binary') return parseInt8;
    return pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export function createPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    types,
    idleTimeoutMillis: 30_000,
    // A request waits this long for a connection (the pool full, the server away), then fails.
    connectionTimeoutMillis: 30_000,
    // Our transactions never wait on anything outside the database; one idle this long belongs
    // to a stalled node, and the server ends it rather than let its row locks stall the others.
    idle_in_transaction_session_timeout: 60_000,
    // Shown in pg_stat_activity unless the URL names the application itself.
    fallback_application_name: 'berth',
  });
  // An idle connection the server dropped emits 'error' on the pool; unhandled, it would kill
  // the process. The pool already discards the client; the next query opens a new one.
  pool.on('error', () => undefined);
  return pool;
}

export async function rows<R extends QueryResultRow>(db: Queryable, sql: string, params: unknown[] = []): Promise<R[]> {
  return (await db.query<R>(sql, params)).rows;
}

export async function one<R extends QueryResultRow>(db: Queryable, sql: string, params: unknown[] = []): Promise<R | undefined> {
  return (await db.query<R>(sql, params)).rows[0];
}

/** Rows changed by an INSERT/UPDATE/DELETE. */
export async function changes(db: Queryable, sql: string, params: unknown[] = []): Promise<number> {
  return (await db.query(sql, params)).rowCount ?? 0;
}

/**
 * Ends a transaction with ROLLBACK and makes withTransaction return `value`: a refusal (a tag
 * may not move, a reference is missing) undoes whatever the transaction did so far.
 */
export class Rollback<T> extends Error {
  constructor(readonly value: T) {
    super('rollback');
  }
}

const RETRYABLE = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 8;

export interface TransactionOptions {
  isolation?: Isolation;
  readOnly?: boolean;
}

/**
 * Runs `fn` in one transaction on one pooled connection, committing when it returns. A
 * serialization failure or deadlock reruns `fn` from the start (after a short random backoff, so
 * two nodes that collided do not collide again), so `fn` must have no effects outside the
 * database. Throwing Rollback(value) rolls back and returns value.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (tx: PoolClient) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
  const begin = `BEGIN ISOLATION LEVEL ${opts.isolation ?? 'READ COMMITTED'}${opts.readOnly ? ' READ ONLY' : ''}`;
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptOnce(pool, begin, fn);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code !== 'string' || !RETRYABLE.has(code) || attempt >= MAX_ATTEMPTS) throw e;
      // Random backoff, growing: two nodes that collided should not collide again.
      await sleep(Math.random() * 5 * 2 ** attempt);
    }
  }
}

async function attemptOnce<T>(pool: pg.Pool, begin: string, fn: (tx: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // Set when the connection is unusable: release(err) then closes it instead of pooling it.
  let broken: Error | undefined;
  // A checked-out client has no 'error' listener of the pool's: a connection lost mid-transaction
  // (a server restart, a failover) would be an uncaught 'error' event, killing the process. The
  // query in flight fails on its own; this only marks the client broken.
  const onError = (e: Error) => void (broken = e);
  client.on('error', onError);
  try {
    try {
      await client.query(begin);
    } catch (e) {
      broken = e as Error;
      throw e;
    }
    try {
      const value = await fn(client);
      await client.query('COMMIT');
      return value;
    } catch (e) {
      // After a failed COMMIT the transaction is already over and ROLLBACK only warns; a
      // ROLLBACK that fails means the connection itself is gone.
      await client.query('ROLLBACK').catch((re: Error) => (broken = re));
      if (e instanceof Rollback) return e.value as T;
      throw e;
    }
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Two-key advisory locks, namespaced so Berth's never collide with another application's in a
 * shared database. The second key comes from the digest itself (hex, so already uniform).
 */
export const LOCK_NAMESPACE = {
  migrations: 0x42657201,
  uploads: 0x42657202,
  digest: 0x42657203,
  /** Service quotas (metadata/postgres/quota-locks.ts): counts checked under these, per registry, repository or image. */
  quotaRegistry: 0x42657251,
  quotaRepository: 0x42657252,
  quotaImage: 0x42657253,
} as const;

/** The int4 advisory key of a digest: its first 8 hex digits as a signed 32-bit integer. */
export function digestLockKey(digest: string): number {
  const hex = digest.slice(digest.indexOf(':') + 1, digest.indexOf(':') + 9);
  return parseInt(hex || '0', 16) | 0;
}
