import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Codes } from '../core/errors.js';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import type { MetadataStore } from '../metadata/types.js';
import { openCiphertext } from './ciphertext.js';
import { isKmsKeyError } from './kms-errors.js';
import { ECR_MANAGED_ALIAS, KmsKeys } from './kms-keys.js';
import { KmsService } from './kms-service.js';

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

/** One metadata database; each `node()` is another process on it, with the same server key. */
function world() {
  const dir = mkdtempSync(join(tmpdir(), 'berth-kms-api-'));
  dirs.push(dir);
  const serverKey = randomBytes(32);
  let t = Date.parse('2026-03-01T00:00:00Z');
  const clock = { now: () => new Date((t += 1)) };
  const node = () => {
    const store = createSqliteMetadataStore({ path: join(dir, 'metadata.db') });
    stores.push(store);
    const keys = new KmsKeys(store.kmsKeys, serverKey, clock, { ttlMs: TTL });
    return { keys, kms: new KmsService(keys) };
  };
  return { node, advance: (ms: number) => void (t += ms) };
}

function kmsRejects(type: string, message?: RegExp) {
  return (e: unknown) => {
    assert.ok(isKmsKeyError(e), String(e));
    assert.equal(e.kmsType, type);
    if (message) assert.match(e.message, message);
    return true;
  };
}

describe('KmsService: encrypt and decrypt', () => {
  it('a ciphertext made on one node opens on another, under its own key and context only', async () => {
    const { node } = world();
    const [a, b] = [node(), node()];
    const key = await a.keys.create(ACCOUNT, REGION, { alias: 'alias/app' });
    const plaintext = Buffer.from('database password');
    const blob = await a.kms.encrypt(key, plaintext, { app: 'web' });
    const found = await b.kms.keyOfCiphertext(ACCOUNT, REGION, blob);
    assert.equal(found.id, key.id);
    assert.deepEqual(await b.kms.decrypt(found, blob, { app: 'web' }), plaintext);
    await assert.rejects(b.kms.decrypt(found, blob, {}), kmsRejects('InvalidCiphertextException'));
    for (const ref of [key.id, key.arn, 'alias/app']) assert.equal((await b.kms.keyOfCiphertext(ACCOUNT, REGION, blob, ref)).id, key.id);

    const other = await a.keys.create(ACCOUNT, REGION);
    await assert.rejects(b.kms.keyOfCiphertext(ACCOUNT, REGION, blob, other.id), kmsRejects('IncorrectKeyException'));
    await assert.rejects(b.kms.keyOfCiphertext(ACCOUNT, REGION, blob, 'alias/none'), kmsRejects('NotFoundException'));
    await assert.rejects(b.kms.keyOfCiphertext(OTHER, REGION, blob), kmsRejects('InvalidCiphertextException', /names no key/), 'another account');
    await assert.rejects(b.kms.keyOfCiphertext(ACCOUNT, 'eu-west-1', blob), kmsRejects('InvalidCiphertextException'), 'another region');
  });

  it('uses a subkey, never the material that wraps blob keys', async () => {
    const { node } = world();
    const { keys, kms } = node();
    const key = await keys.create(ACCOUNT, REGION);
    const blob = await kms.encrypt(key, Buffer.from('x'), {});
    const { key: material } = await keys.wrappingKeysFor(key).current();
    assert.throws(() => openCiphertext({ subkey: material, blob, context: {} }), kmsRejects('InvalidCiphertextException'));
  });

  it('a disabled key neither encrypts nor decrypts nor makes data keys until enabled', async () => {
    const { node } = world();
    const { keys, kms } = node();
    const key = await keys.create(ACCOUNT, REGION);
    const { plaintext, ciphertext } = await kms.generateDataKey(key, 32, { k: 'v' });
    assert.equal(plaintext.length, 32);
    const disabled = await keys.disable(ACCOUNT, REGION, key.id);
    await assert.rejects(kms.encrypt(disabled, Buffer.from('x'), {}), kmsRejects('DisabledException', /is disabled/));
    await assert.rejects(kms.decrypt(disabled, ciphertext, { k: 'v' }), kmsRejects('DisabledException'));
    await assert.rejects(kms.generateDataKey(disabled, 16, {}), kmsRejects('DisabledException'));
    const enabled = await keys.enable(ACCOUNT, REGION, key.id);
    assert.deepEqual(await kms.decrypt(enabled, ciphertext, { k: 'v' }), plaintext);
  });
});

describe('KmsService: listings', () => {
  it('pages keys with opaque markers, and refuses a marker of another listing', async () => {
    const { node } = world();
    const { keys, kms } = node();
    const made = [];
    for (let i = 0; i < 5; i++) made.push((await keys.create(ACCOUNT, REGION, i % 2 === 0 ? { alias: `alias/k${i}` } : {})).id);
    await keys.create(OTHER, REGION);
    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await kms.listKeys(ACCOUNT, REGION, { limit: 2, ...(marker !== undefined && { marker }) });
      seen.push(...page.items.map((k) => k.id));
      marker = page.nextMarker;
      pages++;
    } while (marker !== undefined);
    assert.deepEqual(seen, made);
    assert.equal(pages, 3);
    const exact = await kms.listKeys(ACCOUNT, REGION, { limit: 5 });
    assert.equal(exact.nextMarker, undefined, 'no marker when nothing is left');

    const aliases = await kms.listAliases(ACCOUNT, REGION, { limit: 2 });
    assert.deepEqual(
      aliases.items.map((a) => a.AliasName),
      ['alias/k0', 'alias/k2'],
    );
    assert.equal(aliases.items[0]!.AliasArn, `arn:aws:kms:${REGION}:${ACCOUNT}:alias/k0`);
    assert.equal(aliases.items[0]!.TargetKeyId, made[0]);
    const rest = await kms.listAliases(ACCOUNT, REGION, { limit: 2, marker: aliases.nextMarker! });
    assert.deepEqual(
      rest.items.map((a) => a.AliasName),
      ['alias/k4'],
    );
    assert.equal(rest.nextMarker, undefined);
    assert.deepEqual(
      (await kms.listAliases(ACCOUNT, REGION, { limit: 50, keyId: made[2]! })).items.map((a) => a.AliasName),
      ['alias/k2'],
    );

    for (const bad of ['nonsense', aliases.nextMarker!, Buffer.from('{"op":"ListKeys","after":"gone"}').toString('base64url')]) {
      await assert.rejects(kms.listKeys(ACCOUNT, REGION, { limit: 2, marker: bad }), kmsRejects('InvalidMarkerException'));
    }
  });
});

describe('KmsKeys: aliases through the API', () => {
  it('creates, refuses a second alias per key, a taken or reserved name, and deletes', async () => {
    const { node, advance } = world();
    const [a, b] = [node(), node()];
    const k1 = await a.keys.create(ACCOUNT, REGION);
    const k2 = await a.keys.create(ACCOUNT, REGION);
    assert.equal((await a.keys.createAlias(ACCOUNT, REGION, 'alias/app', k1.id)).alias, 'alias/app');
    assert.equal((await b.keys.describe(ACCOUNT, REGION, 'alias/app')).id, k1.id);
    await assert.rejects(a.keys.createAlias(ACCOUNT, REGION, 'alias/two', k1.id), kmsRejects('LimitExceededException', /one alias per key/));
    await assert.rejects(a.keys.createAlias(ACCOUNT, REGION, 'alias/app', k2.id), kmsRejects('AlreadyExistsException', /already exists/));
    const reserved = await a.keys.createAlias(ACCOUNT, REGION, 'alias/aws/mine', k2.id).catch((e: unknown) => e);
    assert.ok(kmsRejects('InvalidAliasNameException', /reserved/)(reserved));
    assert.equal((reserved as { code: unknown }).code, Codes.InvalidParameter, 'ECR and berth admin see InvalidParameterException');
    await assert.rejects(a.keys.createAlias(ACCOUNT, REGION, 'app', k2.id), kmsRejects('InvalidAliasNameException'));
    await assert.rejects(a.keys.createAlias(ACCOUNT, REGION, 'alias/x', 'alias/none'), kmsRejects('NotFoundException'));

    await a.keys.deleteAlias(ACCOUNT, REGION, 'alias/app');
    await assert.rejects(a.keys.describe(ACCOUNT, REGION, 'alias/app'), kmsRejects('NotFoundException'), 'at once on this node');
    await assert.rejects(a.keys.deleteAlias(ACCOUNT, REGION, 'alias/app'), kmsRejects('NotFoundException'));
    await a.keys.createAlias(ACCOUNT, REGION, 'alias/app', k2.id);
    assert.equal((await a.keys.describe(ACCOUNT, REGION, 'alias/app')).id, k2.id, 'the alias moved');
    // The other node had it cached: it follows within its cache's lifetime.
    advance(TTL);
    assert.equal((await b.keys.describe(ACCOUNT, REGION, 'alias/app')).id, k2.id);
    assert.equal((await b.keys.describe(ACCOUNT, REGION, k1.id)).alias, undefined);
  });

  it('creates alias/aws/ecr when it is named, and refuses to disable it', async () => {
    const { node } = world();
    const { keys } = node();
    const managed = await keys.describe(ACCOUNT, REGION, ECR_MANAGED_ALIAS);
    assert.equal(managed.alias, ECR_MANAGED_ALIAS);
    assert.equal((await keys.describe(ACCOUNT, REGION, `arn:aws:kms:${REGION}:${ACCOUNT}:${ECR_MANAGED_ALIAS}`)).id, managed.id);
    assert.equal((await keys.ensureEcrManaged(ACCOUNT, REGION)).id, managed.id);
    assert.equal((await keys.list(ACCOUNT, REGION)).length, 1);
    await assert.rejects(keys.disable(ACCOUNT, REGION, managed.id), kmsRejects('AccessDeniedException', /AWS managed key/));
    await assert.rejects(keys.deleteAlias(ACCOUNT, REGION, ECR_MANAGED_ALIAS), kmsRejects('InvalidAliasNameException'));
  });
});
