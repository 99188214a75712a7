/**
 * Contract: the event outbox is claimed in turns between accounts (EventOutboxStore.claim), so
 * one account's burst of events does not hold back another account's event; oldest first within
 * an account, whichever of its registries (regions) an event is from; two nodes claiming at once
 * never take one event twice (see contract-suite.ts).
 */
import assert from 'node:assert/strict';
import { accountOf, registryKey } from '../core/registry-key.js';
import { at, push, type ContractTest } from './contract-fixtures.js';
import type { MetadataStore, OutboxEvent, OutboxRecord } from './types.js';

const A = registryKey('111111111111', 'us-east-1');
const A_EU = registryKey('111111111111', 'eu-west-1');
const B = registryKey('222222222222', 'us-east-1');
const C = registryKey('333333333333', 'us-east-1');

let serial = 0;
/** `count` events of a registry, named by their account's first digit and their number from `from`: A's third is '12'. */
function events(key: typeof A, count: number, from = 0): OutboxEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i;
    const id = `00000000-0000-4000-9000-${String(++serial).padStart(12, '0')}`;
    return { id, registryKey: key, detailType: 'ECR Image Action', body: JSON.stringify({ id, name: `${accountOf(key).slice(0, 1)}${n}` }) };
  });
}
const names = (claimed: OutboxRecord[]) => claimed.map((r) => (JSON.parse(r.body) as { name: string }).name);

/** Writes the events as a push would (the outbox is written only with the change it reports). */
async function write(s: MetadataStore, evs: OutboxEvent[]): Promise<void> {
  const { result } = await push(s, { salt: evs[0]!.id, events: evs });
  assert.equal(result.kind, 'ok');
}

export function outboxTurnsContract(test: ContractTest): void {
  test("outbox turns: another account's one event is claimed second, not behind the first account's 50", async ({ a }) => {
    await write(a, events(A, 50));
    await write(a, events(B, 1));
    const order: string[] = [];
    for (let i = 0; i < 51; i++) {
      const claimed = await a.eventOutbox.claim('n1', 60_000, 1, at(10));
      assert.equal(claimed.length, 1, `claim ${i}`);
      order.push(...names(claimed));
    }
    assert.deepEqual(order.slice(0, 3), ['10', '20', '11']);
    assert.deepEqual(
      order.filter((n) => n.startsWith('1')),
      Array.from({ length: 50 }, (_, n) => `1${n}`),
      'oldest first within an account',
    );
    assert.deepEqual(await a.eventOutbox.claim('n1', 60_000, 1, at(10)), []);
  });

  test('outbox turns: a batch takes one event per account per round, the account served longest ago first; regions share their account', async ({ a }) => {
    await write(a, [...events(A, 3), ...events(A_EU, 3, 3)]);
    await write(a, events(B, 3));
    await write(a, events(C, 1));
    // A's six events, three from each region, are one account's: A_EU's ('13' to '15') come after A's.
    assert.deepEqual(names(await a.eventOutbox.claim('n1', 60_000, 6, at(10))), ['10', '20', '30', '11', '21', '12']);
    // C has nothing left; A and B were served by the same claim: the older event goes first.
    assert.deepEqual(names(await a.eventOutbox.claim('n1', 60_000, 1, at(10))), ['13']);
    assert.deepEqual(names(await a.eventOutbox.claim('n1', 60_000, 1, at(10))), ['22'], "B's turn: A was served since");
    assert.deepEqual(names(await a.eventOutbox.claim('n1', 60_000, 10, at(10))), ['14', '15']);
  });

  test('outbox turns: two nodes claiming at once take every event of every account exactly once', async ({ a, b }) => {
    await write(a, [...events(A, 20), ...events(B, 20), ...events(C, 20)]);
    const taken: number[] = [];
    const drain = async (node: MetadataStore, holder: string) => {
      for (;;) {
        const claimed = await node.eventOutbox.claim(holder, 60_000, 4, at(1));
        if (claimed.length === 0) return;
        taken.push(...claimed.map((r) => r.seq));
      }
    };
    await Promise.all([drain(a, 'n1'), drain(b, 'n2')]);
    assert.equal(new Set(taken).size, taken.length, 'no event taken twice');
    assert.equal(taken.length, 60, 'none left behind');
  });
}
