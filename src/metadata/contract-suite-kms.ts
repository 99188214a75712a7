/** Contract: KMS keys — Berth's own and the object store's that are in use (see contract-suite.ts). */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { at, type ContractTest } from './contract-fixtures.js';
import type { KmsKeyRecord, MetadataStore } from './types.js';

const ACCOUNT = '123456789012';
const OTHER_ACCOUNT = '210987654321';
const REGION = 'us-east-1';
const ROUNDS = 12;

interface KeyOptions {
  accountId?: string;
  region?: string;
  alias?: string;
  description?: string;
  now?: Date;
}

/** A BERTH key's row as KmsKeys writes it (the sealed material is opaque here). */
function newKey(o: KeyOptions = {}): Omit<KmsKeyRecord, 'createdAt'> & { now: Date } {
  const id = randomUUID();
  const accountId = o.accountId ?? ACCOUNT;
  const region = o.region ?? REGION;
  return {
    id,
    accountId,
    region,
    arn: `arn:aws:kms:${region}:${accountId}:key/${id}`,
    ...(o.alias !== undefined && { alias: o.alias }),
    description: o.description ?? '',
    state: 'Enabled',
    origin: 'BERTH',
    sealedMaterial: `v1.sealed-${id}`,
    now: o.now ?? at(),
  };
}

async function created(s: MetadataStore, o: KeyOptions = {}): Promise<KmsKeyRecord> {
  const r = await s.kmsKeys.create(newKey(o));
  assert.equal(r.kind, 'created');
  return r.kind === 'created' ? r.key : assert.fail();
}

const ids = (keys: KmsKeyRecord[]) => keys.map((k) => k.id);

export function kmsContract(test: ContractTest): void {
  test('kms keys: create, then read back by id, arn and alias on either node', async ({ a, b }) => {
    const input = newKey({ alias: 'alias/team-a', description: 'team A images', now: at(5) });
    const r = await a.kmsKeys.create(input);
    const { now, ...fields } = input;
    const expected: KmsKeyRecord = { ...fields, createdAt: now };
    assert.deepEqual(r, { kind: 'created', key: expected });
    assert.deepEqual(await b.kmsKeys.get(input.id), expected);
    assert.deepEqual(await b.kmsKeys.findByArn(input.arn), expected);
    assert.deepEqual(await b.kmsKeys.findByAlias(ACCOUNT, REGION, 'alias/team-a'), expected);
    const bare = await created(a);
    assert.equal(bare.alias, undefined, 'no alias');
    assert.equal(bare.description, '');
    assert.equal(await a.kmsKeys.get(randomUUID()), undefined);
    assert.equal(await a.kmsKeys.findByArn('arn:aws:kms:us-east-1:123456789012:key/none'), undefined);
    assert.equal(await a.kmsKeys.findByAlias(ACCOUNT, REGION, 'alias/none'), undefined);
    assert.equal(await a.kmsKeys.findByAlias(OTHER_ACCOUNT, REGION, 'alias/team-a'), undefined, 'aliases belong to an account');
    assert.equal(await a.kmsKeys.findByAlias(ACCOUNT, 'eu-west-1', 'alias/team-a'), undefined, '... and a region');
  });

  test('kms keys: an alias is unique in its account and region; a taken one returns the holder', async ({ a }) => {
    const first = await created(a, { alias: 'alias/shared' });
    const again = newKey({ alias: 'alias/shared', description: 'second' });
    assert.deepEqual(await a.kmsKeys.create(again), { kind: 'aliasTaken', existing: first });
    assert.equal(await a.kmsKeys.get(again.id), undefined, 'nothing stored');
    await created(a, { alias: 'alias/shared', accountId: OTHER_ACCOUNT });
    await created(a, { alias: 'alias/shared', region: 'eu-west-1' });
    // Any number of keys without an alias.
    for (let i = 0; i < 3; i++) await created(a);
    assert.equal((await a.kmsKeys.listAll()).length, 6);
    const clash = { ...newKey(), id: first.id };
    await assert.rejects(a.kmsKeys.create(clash), 'a key id is never reused');
  });

  test('kms keys: listed per account and region, or all, oldest first; EXTERNAL ones only in listAll', async ({ a, b }) => {
    const k2 = await created(a, { now: at(20), alias: 'alias/z' });
    const k1 = await created(a, { now: at(10) });
    const other = await created(a, { now: at(15), accountId: OTHER_ACCOUNT });
    const west = await created(a, { now: at(30), region: 'eu-west-1' });
    const ext = await a.kmsKeys.recordExternal(ACCOUNT, REGION, 'alias/s3-side', at(40));
    assert.deepEqual(ids(await b.kmsKeys.list({ accountId: ACCOUNT, region: REGION })), [k1.id, k2.id]);
    assert.deepEqual(ids(await b.kmsKeys.list({ accountId: OTHER_ACCOUNT, region: REGION })), [other.id]);
    assert.deepEqual(ids(await b.kmsKeys.list({ accountId: ACCOUNT, region: 'ap-south-1' })), []);
    assert.deepEqual(ids(await b.kmsKeys.list()), [k1.id, other.id, k2.id, west.id]);
    assert.deepEqual(ids(await b.kmsKeys.listAll()), [k1.id, other.id, k2.id, west.id, ext.id]);
  });

  test('kms keys: setState disables and enables; false for a missing key', async ({ a, b }) => {
    const k = await created(a);
    assert.equal(await a.kmsKeys.setState(k.id, 'Disabled'), true);
    assert.equal((await b.kmsKeys.get(k.id))?.state, 'Disabled');
    assert.equal((await b.kmsKeys.findByArn(k.arn))?.state, 'Disabled');
    assert.equal(await b.kmsKeys.setState(k.id, 'Enabled'), true);
    assert.equal((await a.kmsKeys.get(k.id))?.state, 'Enabled');
    assert.equal(await a.kmsKeys.setState(randomUUID(), 'Disabled'), false);
  });

  test('kms keys: setAlias gives a key without one an alias free in its account and region', async ({ a, b }) => {
    const k = await created(a);
    const named = await created(a, { alias: 'alias/named' });
    assert.equal(await a.kmsKeys.setAlias(k.id, 'alias/named'), 'aliasTaken', 'held by another key');
    assert.equal(await a.kmsKeys.setAlias(named.id, 'alias/named'), 'aliasTaken', 'held by the key itself');
    assert.equal(await a.kmsKeys.setAlias(named.id, 'alias/second'), 'hasAlias', 'one alias per key');
    assert.equal(await a.kmsKeys.setAlias(randomUUID(), 'alias/x'), 'notFound');
    assert.equal(await a.kmsKeys.setAlias(k.id, 'alias/fresh'), 'set');
    assert.deepEqual(await b.kmsKeys.findByAlias(ACCOUNT, REGION, 'alias/fresh'), { ...k, alias: 'alias/fresh' });
    assert.equal((await b.kmsKeys.get(k.id))?.alias, 'alias/fresh');
    assert.equal((await b.kmsKeys.get(named.id))?.alias, 'alias/named', 'the other key untouched');
    // An alias taken in another account or region is free here.
    const elsewhere = await created(a, { accountId: OTHER_ACCOUNT });
    assert.equal(await b.kmsKeys.setAlias(elsewhere.id, 'alias/fresh'), 'set');
    assert.equal((await a.kmsKeys.findByAlias(ACCOUNT, REGION, 'alias/fresh'))?.id, k.id);
  });

  test('kms keys: deleteAlias frees an alias for another key; false when none holds it', async ({ a, b }) => {
    const k = await created(a, { alias: 'alias/moving' });
    const other = await created(a, { alias: 'alias/moving', accountId: OTHER_ACCOUNT });
    assert.equal(await a.kmsKeys.deleteAlias(ACCOUNT, REGION, 'alias/none'), false);
    assert.equal(await a.kmsKeys.deleteAlias(ACCOUNT, 'eu-west-1', 'alias/moving'), false, 'aliases belong to a region');
    assert.equal(await b.kmsKeys.deleteAlias(ACCOUNT, REGION, 'alias/moving'), true);
    assert.equal(await a.kmsKeys.findByAlias(ACCOUNT, REGION, 'alias/moving'), undefined);
    assert.equal((await a.kmsKeys.get(k.id))?.alias, undefined, 'the key stays, without an alias');
    assert.equal((await a.kmsKeys.get(other.id))?.alias, 'alias/moving', "another account's alias stays");
    assert.equal(await b.kmsKeys.deleteAlias(ACCOUNT, REGION, 'alias/moving'), false, 'once');
    const next = await created(a);
    assert.equal(await a.kmsKeys.setAlias(next.id, 'alias/moving'), 'set');
    assert.equal(await a.kmsKeys.setAlias(k.id, 'alias/back'), 'set', 'the old key may take another');
    assert.equal((await b.kmsKeys.findByAlias(ACCOUNT, REGION, 'alias/moving'))?.id, next.id);
  });

  test('kms keys: two nodes giving one alias to two keys at once: one gets it', async ({ a, b }) => {
    for (let i = 0; i < ROUNDS; i++) {
      const alias = `alias/contested-${i}`;
      const [k1, k2] = [await created(a), await created(a)];
      const results = await Promise.all([a.kmsKeys.setAlias(k1.id, alias), b.kmsKeys.setAlias(k2.id, alias)]);
      assert.deepEqual([...results].sort(), ['aliasTaken', 'set']);
      const holder = await a.kmsKeys.findByAlias(ACCOUNT, REGION, alias);
      assert.equal(holder?.id, results[0] === 'set' ? k1.id : k2.id);
    }
    for (let i = 0; i < ROUNDS; i++) {
      const k = await created(a);
      const results = await Promise.all([a.kmsKeys.setAlias(k.id, `alias/first-${i}`), b.kmsKeys.setAlias(k.id, `alias/second-${i}`)]);
      assert.deepEqual([...results].sort(), ['hasAlias', 'set'], 'one key, two aliases at once: one wins');
    }
  });

  test('kms keys: recordExternal keeps the reference as given, once, and returns the one row', async ({ a, b }) => {
    const ref = 'arn:aws:kms:us-east-1:999999999999:key/' + 'x'.repeat(2000);
    const first = await a.kmsKeys.recordExternal(ACCOUNT, REGION, ref, at(1));
    assert.match(first.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(first, {
      id: first.id,
      accountId: ACCOUNT,
      region: REGION,
      arn: ref,
      description: '',
      state: 'Enabled',
      origin: 'EXTERNAL',
      createdAt: at(1),
    });
    assert.deepEqual(await b.kmsKeys.recordExternal(ACCOUNT, REGION, ref, at(2)), first, 'idempotent');
    assert.deepEqual(await b.kmsKeys.recordExternal(OTHER_ACCOUNT, 'eu-west-1', ref, at(3)), first, 'one row per reference');
    assert.deepEqual(await a.kmsKeys.findByArn(ref), first);
    assert.deepEqual(await a.kmsKeys.get(first.id), first);
    const second = await a.kmsKeys.recordExternal(ACCOUNT, REGION, 'my-key', at(4));
    assert.notEqual(second.id, first.id);
    assert.deepEqual(ids(await a.kmsKeys.listAll()), [first.id, second.id]);
    assert.deepEqual(await a.kmsKeys.list(), [], 'not Berth keys');
    // A BERTH key's arn given as an external reference is that key's row.
    const own = await created(a);
    assert.deepEqual(await a.kmsKeys.recordExternal(ACCOUNT, REGION, own.arn, at(5)), own);
  });

  test('kms keys: two nodes creating one alias at once end with one key', async ({ a, b }) => {
    for (let i = 0; i < ROUNDS; i++) {
      const alias = `alias/race-${i}`;
      const [x, y] = await Promise.all([a.kmsKeys.create(newKey({ alias })), b.kmsKeys.create(newKey({ alias }))]);
      const kinds = [x.kind, y.kind].sort();
      assert.deepEqual(kinds, ['aliasTaken', 'created']);
      const winner = x.kind === 'created' ? x.key : y.kind === 'created' ? y.key : assert.fail();
      const loser = x.kind === 'aliasTaken' ? x.existing : y.kind === 'aliasTaken' ? y.existing : assert.fail();
      assert.deepEqual(loser, winner, 'the loser is told the winner');
    }
    assert.equal((await a.kmsKeys.list({ accountId: ACCOUNT, region: REGION })).length, ROUNDS);
  });

  test('kms keys: two nodes recording one external reference at once end with one row', async ({ a, b }) => {
    for (let i = 0; i < ROUNDS; i++) {
      const ref = `external-${i}`;
      const [x, y] = await Promise.all([a.kmsKeys.recordExternal(ACCOUNT, REGION, ref, at(i)), b.kmsKeys.recordExternal(ACCOUNT, REGION, ref, at(i))]);
      assert.deepEqual(x, y);
    }
    assert.equal((await a.kmsKeys.listAll()).length, ROUNDS);
  });
}
