import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, describe, it } from 'node:test';
import { Codes, RegistryError } from '../core/errors.js';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import type { MetadataStore } from '../metadata/types.js';
import { keyMetadata } from './key-metadata.js';
import { ECR_MANAGED_ALIAS, keyIdBytes, KmsKeys } from './kms-keys.js';
import { registryWrappingKey } from './registry-key.js';

const ACCOUNT = '111122223333';
const OTHER = '444455556666';
const REGION = 'us-east-1';
const TTL = 5000;

const dirs: string[] = [];
const stores: MetadataStore[] = [];
after(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A metadata database in a temp dir; each call of `node()` is another process on it. */
function world(serverKey = randomBytes(32)) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-kms-'));
  dirs.push(dir);
  let t = Date.parse('2026-03-01T00:00:00Z');
  const clock = { now: () => new Date(t) };
  const node = (opts: { ttlMs?: number; key?: Buffer } = {}) => {
    const store = createSqliteMetadataStore({ path: join(dir, 'metadata.db') });
    stores.push(store);
    return { store, kms: new KmsKeys(store.kmsKeys, opts.key ?? serverKey, clock, { ttlMs: opts.ttlMs ?? TTL }) };
  };
  return { serverKey, node, advance: (ms: number) => void (t += ms) };
}

/** Asserts a RegistryError of `code` whose message matches. */
function rejectsWith(code: keyof typeof Codes, message: RegExp | string) {
  return (e: unknown) => {
    assert.ok(e instanceof RegistryError, String(e));
    assert.equal(e.code, Codes[code]);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  };
}

describe('KmsKeys: creating keys', () => {
  it('creates an enabled key with a KMS-shaped id and ARN, its material sealed', async () => {
    const { node } = world();
    const { kms, store } = node();
    const key = await kms.create(ACCOUNT, REGION, { alias: 'alias/team-a', description: 'team A' });
    assert.match(key.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(key.arn, `arn:aws:kms:${REGION}:${ACCOUNT}:key/${key.id}`);
    assert.deepEqual(
      [key.alias, key.description, key.state, key.origin, key.accountId, key.region],
      ['alias/team-a', 'team A', 'Enabled', 'BERTH', ACCOUNT, REGION],
    );
    const { key: material } = await kms.wrappingKeysFor(key).current();
    assert.equal(material.length, 32);
    const row = await store.kmsKeys.get(key.id);
    assert.ok(row?.sealedMaterial);
    for (const enc of ['hex', 'base64', 'base64url'] as const) assert.ok(!row.sealedMaterial.includes(material.toString(enc)), 'not stored in clear');
    const plain = await kms.create(ACCOUNT, REGION);
    assert.deepEqual([plain.alias, plain.description], [undefined, '']);
    assert.notDeepEqual((await kms.wrappingKeysFor(plain).current()).key, material, 'every key its own material');
  });

  it('holds aliases to KMS rules', async () => {
    const { kms } = world().node();
    const invalid = (alias: string) => assert.rejects(kms.create(ACCOUNT, REGION, { alias }), rejectsWith('InvalidParameter', /^Alias '.*' is invalid/));
    for (const bad of ['team-a', 'alias/', 'alias/a b', 'alias/é', 'alias/x:y', `alias/${'a'.repeat(251)}`, 'Alias/x']) await invalid(bad);
    for (const reserved of ['alias/aws/ecr', 'alias/aws/mine', 'alias/AWS/x']) {
      await assert.rejects(kms.create(ACCOUNT, REGION, { alias: reserved }), rejectsWith('InvalidParameter', /reserved for AWS managed keys/));
    }
    const ok = await kms.create(ACCOUNT, REGION, { alias: `alias/${'a'.repeat(250)}` });
    assert.equal(ok.alias?.length, 256);
    await kms.create(ACCOUNT, REGION, { alias: 'alias/aws' });
    await kms.create(ACCOUNT, REGION, { alias: 'alias/Team_1/sub-2' });
    await assert.rejects(
      kms.create(ACCOUNT, REGION, { alias: 'alias/Team_1/sub-2' }),
      rejectsWith('KmsException', `An alias with the name arn:aws:kms:${REGION}:${ACCOUNT}:alias/Team_1/sub-2 already exists`),
    );
    await kms.create(OTHER, REGION, { alias: 'alias/Team_1/sub-2' });
    await assert.rejects(kms.create(ACCOUNT, REGION, { description: 'x'.repeat(8193) }), rejectsWith('InvalidParameter', /description/));
  });

  it("lists an account and region's keys, oldest first", async () => {
    const { node, advance } = world();
    const { kms } = node();
    const a = await kms.create(ACCOUNT, REGION);
    advance(1);
    const b = await kms.create(ACCOUNT, REGION, { alias: 'alias/b' });
    await kms.create(OTHER, REGION);
    await kms.create(ACCOUNT, 'eu-west-1');
    assert.deepEqual(
      (await kms.list(ACCOUNT, REGION)).map((k) => k.id),
      [a.id, b.id],
    );
    assert.equal((await kms.listAll()).length, 4);
  });
});

describe('KmsKeys: resolving references', () => {
  it('finds a key by id, key ARN, alias and alias ARN', async () => {
    const { kms } = world().node();
    const key = await kms.create(ACCOUNT, REGION, { alias: 'alias/team-a' });
    for (const ref of [key.id, key.id.toUpperCase(), key.arn, 'alias/team-a', `arn:aws:kms:${REGION}:${ACCOUNT}:alias/team-a`]) {
      assert.equal((await kms.resolve(ACCOUNT, REGION, ref)).id, key.id, ref);
      assert.equal((await kms.describe(ACCOUNT, REGION, ref)).id, key.id, ref);
    }
  });

  it("does not find another account's or region's key, in KMS's words", async () => {
    const { kms } = world().node();
    const key = await kms.create(ACCOUNT, REGION, { alias: 'alias/team-a' });
    const otherArn = `arn:aws:kms:${REGION}:${OTHER}:key/${key.id}`;
    const westArn = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${key.id}`;
    await assert.rejects(kms.resolve(OTHER, REGION, key.id), rejectsWith('KmsException', `Key '${otherArn}' does not exist`));
    await assert.rejects(kms.resolve(OTHER, REGION, key.arn), rejectsWith('KmsException', `Key '${key.arn}' does not exist`));
    await assert.rejects(kms.resolve(ACCOUNT, 'eu-west-1', key.arn), rejectsWith('KmsException', `Key '${key.arn}' does not exist`));
    await assert.rejects(kms.resolve(ACCOUNT, 'eu-west-1', key.id), rejectsWith('KmsException', `Key '${westArn}' does not exist`));
    await assert.rejects(
      kms.resolve(OTHER, REGION, 'alias/team-a'),
      rejectsWith('KmsException', `Alias 'arn:aws:kms:${REGION}:${OTHER}:alias/team-a' is not found.`),
    );
    const aliasArn = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/team-a`;
    await assert.rejects(kms.resolve(OTHER, REGION, aliasArn), rejectsWith('KmsException', `Alias '${aliasArn}' is not found.`));
    const missing = randomUUID();
    await assert.rejects(
      kms.resolve(ACCOUNT, REGION, missing),
      rejectsWith('KmsException', `Key 'arn:aws:kms:${REGION}:${ACCOUNT}:key/${missing}' does not exist`),
    );
    for (const junk of ['', 'team-a', 'arn:aws:kms:us-east-1:111122223333:key/not-a-uuid', 'arn:aws:s3:::bucket']) {
      await assert.rejects(kms.resolve(ACCOUNT, REGION, junk), rejectsWith('KmsException', `Key '${junk}' does not exist`));
    }
  });

  it('refuses a disabled key until it is enabled again; describe still shows it', async () => {
    const { kms } = world().node();
    const key = await kms.create(ACCOUNT, REGION, { alias: 'alias/x' });
    assert.equal((await kms.disable(ACCOUNT, REGION, 'alias/x')).state, 'Disabled');
    await assert.rejects(kms.resolve(ACCOUNT, REGION, key.arn), rejectsWith('KmsException', `${key.arn} is disabled.`));
    assert.equal((await kms.describe(ACCOUNT, REGION, key.id)).state, 'Disabled');
    assert.equal((await kms.enable(ACCOUNT, REGION, key.arn)).state, 'Enabled');
    assert.equal((await kms.resolve(ACCOUNT, REGION, key.id)).state, 'Enabled');
    await assert.rejects(kms.disable(OTHER, REGION, key.id), rejectsWith('KmsException', /does not exist/));
  });

  it('does not hand out object-store keys as Berth keys', async () => {
    const { kms } = world().node();
    const ext = await kms.recordExternal(ACCOUNT, REGION, 'alias/s3-side');
    assert.deepEqual(await kms.recordExternal(ACCOUNT, REGION, 'alias/s3-side'), ext, 'idempotent');
    assert.equal(ext.origin, 'EXTERNAL');
    assert.deepEqual(await kms.findExternal('alias/s3-side'), ext);
    assert.equal(await kms.findExternal('alias/other'), undefined);
    await assert.rejects(kms.resolve(ACCOUNT, REGION, ext.id), rejectsWith('KmsException', /does not exist/));
    await assert.rejects(kms.resolve(ACCOUNT, REGION, 'alias/s3-side'), rejectsWith('KmsException', /is not found/));
    await assert.rejects(kms.wrappingKeysFor(ext).current(), rejectsWith('KmsException', /not a key Berth holds/));
    await assert.rejects(kms.anyKey().byId(keyIdBytes(ext.id)), { message: 'blob sealed under an unknown key' });
  });
});

describe('KmsKeys: the ECR managed key', () => {
  it('is created on first use, once per account and region, and cannot be disabled', async () => {
    const { kms } = world().node();
    const key = await kms.ensureEcrManaged(ACCOUNT, REGION);
    assert.equal(key.alias, ECR_MANAGED_ALIAS);
    assert.deepEqual(await kms.ensureEcrManaged(ACCOUNT, REGION), key);
    assert.notEqual((await kms.ensureEcrManaged(OTHER, REGION)).id, key.id);
    assert.equal((await kms.resolve(ACCOUNT, REGION, 'alias/aws/ecr')).id, key.id);
    assert.equal(keyMetadata(key).KeyManager, 'AWS');
    await assert.rejects(kms.disable(ACCOUNT, REGION, 'alias/aws/ecr'), rejectsWith('InvalidParameter', /AWS managed key/));
    assert.ok((await kms.wrappingKeysFor(key).current()).key.length === 32);
  });

  it('two nodes creating it at once end with one key', async () => {
    const { node } = world();
    const [a, b] = [node().kms, node().kms];
    for (let i = 0; i < 10; i++) {
      const account = String(100000000000 + i);
      const [x, y] = await Promise.all([a.ensureEcrManaged(account, REGION), b.ensureEcrManaged(account, REGION)]);
      assert.equal(x.id, y.id);
      assert.deepEqual((await a.wrappingKeysFor(x).current()).key, (await b.wrappingKeysFor(y).current()).key);
    }
    assert.equal((await a.listAll()).length, 10);
  });
});

describe('KmsKeys: wrapping keys', () => {
  it("seal under the repository's key; open blobs of any Berth key or the registry key", async () => {
    const { node, serverKey } = world();
    const { kms } = node();
    const [k1, k2] = [await kms.create(ACCOUNT, REGION), await kms.create(OTHER, REGION)];
    const keys = kms.wrappingKeysFor(k1);
    const current = await keys.current();
    assert.deepEqual(current.id, keyIdBytes(k1.id));
    assert.equal(current.id.toString('hex'), k1.id.replace(/-/g, ''));
    assert.deepEqual(await keys.byId(current.id), current);
    const other = await kms.wrappingKeysFor(k2).current();
    assert.deepEqual(await keys.byId(other.id), other, "another key's blob (a mount across keys is never made, but reads need no repository)");
    const registry = registryWrappingKey(serverKey);
    assert.deepEqual(await keys.byId(registry.id), registry);
    await assert.rejects(keys.byId(randomBytes(16)), { message: 'blob sealed under an unknown key' });
    await assert.rejects(keys.byId(randomBytes(5)), { message: 'blob sealed under an unknown key' });
    const any = kms.anyKey();
    assert.deepEqual(await any.current(), registry);
    assert.deepEqual(await any.byId(current.id), current);
    current.key.fill(0);
    assert.notDeepEqual((await keys.current()).key, current.key, "a caller wiping its copy leaves the cache's");
  });

  it('hands out one KeyObject per key, kept across reloads of the record, holding the same material', async () => {
    const { node, advance } = world();
    const { kms } = node();
    const key = await kms.create(ACCOUNT, REGION);
    const keys = kms.wrappingKeysFor(key);
    const first = await keys.current();
    assert.ok(first.keyObject, 'a Berth key comes with its KeyObject');
    assert.deepEqual(first.keyObject.export(), first.key);
    assert.equal((await keys.byId(first.id)).keyObject, first.keyObject, 'not built again for the next blob');
    advance(TTL);
    assert.equal((await keys.current()).keyObject, first.keyObject, 'a reload of the record keeps it');
    first.key.fill(0);
    assert.notDeepEqual(first.keyObject.export(), first.key, "a caller wiping its copy of the bytes leaves the KeyObject's");
  });

  it('the same key on every node with the server key; none with another server key', async () => {
    const { node } = world();
    const key = await node().kms.create(ACCOUNT, REGION);
    const a = await node().kms.wrappingKeysFor(key).current();
    const b = await node({ ttlMs: 0 }).kms.anyKey().byId(a.id);
    assert.deepEqual(a, b);
    const stranger = node({ key: randomBytes(32) }).kms;
    await assert.rejects(stranger.wrappingKeysFor(key).current(), rejectsWith('KmsException', /cannot be opened/));
  });

  it('a disabled key seals and opens nothing: at once on this node, within the TTL on others', async () => {
    const { node, advance } = world();
    const server = node().kms;
    const admin = node({ ttlMs: 0 }).kms;
    const key = await server.create(ACCOUNT, REGION, { alias: 'alias/app' });
    const keys = server.wrappingKeysFor(key);
    const { id } = await keys.current();
    const disabled = rejectsWith('KmsException', `${key.arn} is disabled.`);

    await server.resolve(ACCOUNT, REGION, 'alias/app');
    await admin.disable(ACCOUNT, REGION, 'alias/app');
    await keys.current();
    await server.resolve(ACCOUNT, REGION, 'alias/app');
    advance(TTL - 1);
    await keys.byId(id);
    advance(1);
    await assert.rejects(keys.current(), disabled);
    await assert.rejects(keys.byId(id), disabled);
    await assert.rejects(server.anyKey().byId(id), disabled);
    await assert.rejects(server.resolve(ACCOUNT, REGION, 'alias/app'), disabled);

    await admin.enable(ACCOUNT, REGION, key.id);
    await assert.rejects(keys.current(), disabled, 'still cached');
    advance(TTL);
    await keys.current();

    await server.disable(ACCOUNT, REGION, key.arn);
    await assert.rejects(keys.current(), disabled, 'at once on the node that disabled it');
    await assert.rejects(keys.byId(id), disabled);
    await server.enable(ACCOUNT, REGION, key.arn);
    assert.deepEqual((await keys.current()).id, id);
  });

  it('never shows key material: not in inspect, JSON or errors', async () => {
    const { node, serverKey } = world();
    const { kms } = node();
    const key = await kms.create(ACCOUNT, REGION);
    const { key: material } = await kms.wrappingKeysFor(key).current();
    const secrets = [material, serverKey, registryWrappingKey(serverKey).key];
    const shown = [inspect(kms, { depth: 10, showHidden: true }), JSON.stringify(kms), JSON.stringify(keyMetadata(key))];
    for (const text of shown) {
      for (const s of secrets) for (const enc of ['hex', 'base64'] as const) assert.ok(!text.includes(s.toString(enc)), text);
    }
  });
});

describe('keyMetadata', () => {
  it("is KMS's KeyMetadata", async () => {
    const { kms } = world().node();
    const key = await kms.create(ACCOUNT, REGION, { alias: 'alias/web', description: 'web' });
    assert.deepEqual(keyMetadata(key), {
      AWSAccountId: ACCOUNT,
      KeyId: key.id,
      Arn: key.arn,
      AliasName: 'alias/web',
      Description: 'web',
      KeyState: 'Enabled',
      Enabled: true,
      CreationDate: '2026-03-01T00:00:00.000Z',
      KeyManager: 'CUSTOMER',
      Origin: 'AWS_KMS',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
    });
    const { alias: _, ...noAlias } = key;
    const bare = keyMetadata({ ...noAlias, state: 'Disabled' });
    assert.deepEqual(['AliasName' in bare, bare.KeyState, bare.Enabled], [false, 'Disabled', false]);
  });
});
