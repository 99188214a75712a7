/**
 * TurnFill (job-turns.ts): what a claim in turns reads, counted through its read function, and
 * that reading in passes picks exactly what takeTurns picks from every account's whole queue.
 * The stores' claims run it over real statements (contract-suite-turn-reads.ts); here the queues
 * are arrays, so the rows read can be counted and any shape tried.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fillTurns, takeTurns, TurnFill, type FillRead } from './job-turns.js';

interface Row {
  run_after: number;
  id: number;
}

/** Account i's queue: depths[i] rows, ids i*1e6 + n, oldest first, all due at once. */
const queue = (i: number, depth: number): Row[] => Array.from({ length: depth }, (_, n) => ({ run_after: 0, id: i * 1e6 + n }));

/** The batch a fill picks over these queues (with these turns and caps), and the rows it read. */
function filled(depths: number[], target: number, turns: number[] = [], caps: number[] = []): { batch: Row[]; read: number; passes: number } {
  const queues = depths.map((d, i) => queue(i, d));
  let read = 0;
  let passes = 0;
  const fill = new TurnFill<number, Row>(
    depths.map((_, i) => ({ account: i, turn: turns[i] ?? 0, ...(caps[i] !== undefined && { cap: caps[i] }) })),
    target,
  );
  const batch = fillTurns(fill, (reads: FillRead<number, Row>[]) => {
    passes++;
    return reads.map(({ account, after, n }) => {
      const rows = queues[account]!.filter((r) => after === undefined || r.id > after.id).slice(0, n);
      read += rows.length;
      return rows;
    });
  });
  assert.equal(fill.rowsRead, read);
  return { batch, read, passes };
}

/** What takeTurns picks from every account's whole queue (capped), the rule the fill must keep. */
function whole(depths: number[], target: number, turns: number[] = [], caps: number[] = []): Row[] {
  return takeTurns(
    depths.map((d, i) => ({ turn: turns[i] ?? 0, due: queue(i, Math.min(d, caps[i] ?? d)) })),
    target,
  );
}

describe('TurnFill', () => {
  it('reads O(target + accounts) rows with 1,000 accounts each 200 deep, and fills the batch', () => {
    const depths = Array(1000).fill(200);
    const { batch, read, passes } = filled(depths, 200);
    assert.equal(batch.length, 200);
    assert.deepEqual(batch, whole(depths, 200));
    assert.ok(read <= 200 + 1000, `read ${read} rows`);
    assert.equal(passes, 1);
    // The same with four times the batch (PostgreSQL's candidates) and with a job worker's four.
    assert.ok(filled(depths, 800).read <= 800 + 1000);
    assert.ok(filled(depths, 4).read <= 4 + 1000);
  });

  it('reads more only from accounts that may have more, and stays bounded when most run dry', () => {
    // One deep account among 999 with one row: the first pass reads 1 of each, short of 2,000.
    const depths = [100_000, ...Array(999).fill(1)];
    const { batch, read } = filled(depths, 2000);
    assert.deepEqual(batch, whole(depths, 2000));
    assert.ok(read <= 2000 + 1000, `read ${read} rows`);
  });

  it('picks exactly what takeTurns picks from the whole queues, whatever the depths, turns, caps and target', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let trial = 0; trial < 500; trial++) {
      const accounts = 1 + rand(30);
      const depths = Array.from({ length: accounts }, () => (rand(4) === 0 ? rand(300) : rand(8)));
      const turns = Array.from({ length: accounts }, () => rand(5));
      const caps = Array.from({ length: accounts }, () => (rand(3) === 0 ? rand(10) : undefined)) as number[];
      const target = 1 + rand(120);
      const { batch, read } = filled(depths, target, turns, caps);
      assert.deepEqual(batch, whole(depths, target, turns, caps), `trial ${trial}: depths ${depths} turns ${turns} caps ${caps} target ${target}`);
      assert.ok(read <= 2 * target + accounts, `trial ${trial}: read ${read} rows for ${target} over ${accounts} accounts`);
    }
  });

  it('takes a first pass the caller read itself (PostgreSQL reads it with the accounts)', () => {
    const depths = [50, 1, 50];
    // The caller asked for 3 of each: accounts 0 and 2 may have more, account 1 has not.
    const fill = new TurnFill<number, Row>(
      depths.map((d, i) => ({ account: i, turn: 0, due: queue(i, Math.min(d, 3)) })),
      20,
      3,
    );
    const reads = fill.pass();
    assert.deepEqual(
      reads.map((r) => [r.account, r.after?.id, r.n]),
      [
        [0, 2, 7],
        [2, 2_000_002, 7],
      ],
    );
    fill.add(reads.map((r) => queue(r.account, 50).slice(3, 3 + r.n)));
    assert.deepEqual(fill.pass(), [], 'full');
    assert.deepEqual(fill.take(), whole(depths, 20));
  });
});
