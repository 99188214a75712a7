import assert from 'node:assert/strict';
import { hkdfSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { materialSealingKey, openMaterial, sealMaterial } from './key-material.js';
import { registryWrappingKey, registryWrappingKeys } from './registry-key.js';

const hkdf = (key: Buffer, info: string, n: number) => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), info, n));

describe('registry key', () => {
  it('is HKDF-SHA256 of the server key, with an id derived apart from it', async () => {
    const serverKey = randomBytes(32);
    const { id, key } = await registryWrappingKeys(serverKey).current();
    assert.deepEqual(key, hkdf(serverKey, 'berth blob encryption registry key v1', 32));
    assert.deepEqual(id, hkdf(serverKey, 'berth blob encryption registry key id v1', 32).subarray(0, 16));
    assert.equal(id.length, 16);
    assert.deepEqual(registryWrappingKey(serverKey), { id, key }, 'the same on every node with the server key');
    assert.notDeepEqual(registryWrappingKey(randomBytes(32)).key, key);
  });

  it('opens only blobs sealed under itself', async () => {
    const keys = registryWrappingKeys(randomBytes(32));
    const own = await keys.current();
    assert.deepEqual(await keys.byId(Buffer.from(own.id)), own);
    await assert.rejects(keys.byId(randomBytes(16)), { message: 'blob sealed under an unknown key' });
    await assert.rejects(keys.byId(own.id.subarray(0, 8)), { message: 'blob sealed under an unknown key' });
    await assert.rejects(keys.byId(registryWrappingKey(randomBytes(32)).id), { message: 'blob sealed under an unknown key' });
  });

  it('needs a 32-byte server key', () => {
    assert.throws(() => registryWrappingKeys(randomBytes(16)), /32 bytes/);
  });
});

describe('sealed key material', () => {
  const sealing = materialSealingKey(randomBytes(32));
  const material = randomBytes(32);

  it('opens with the same server key and key id only', () => {
    const sealed = sealMaterial(material, sealing, 'k1');
    assert.deepEqual(openMaterial(sealed, sealing, 'k1'), material);
    assert.notEqual(sealMaterial(material, sealing, 'k1'), sealed, 'a fresh IV each time');
    assert.ok(!sealed.includes(material.toString('base64url')) && !sealed.includes(material.toString('hex')));
    assert.throws(() => openMaterial(sealed, sealing, 'k2'), /authentication failed/, 'bound to its key id');
    assert.throws(() => openMaterial(sealed, materialSealingKey(randomBytes(32)), 'k1'), /authentication failed/);
  });

  it('refuses altered or malformed values', () => {
    const sealed = sealMaterial(material, sealing, 'k1');
    const parts = sealed.split('.');
    const ct = Buffer.from(parts[2]!, 'base64url');
    ct[0]! ^= 1;
    assert.throws(() => openMaterial([parts[0], parts[1], ct.toString('base64url'), parts[3]].join('.'), sealing, 'k1'), /authentication failed/);
    for (const bad of ['', 'v2.a.b.c', sealed + '.x', sealed.replace(/^v1\./, 'v1.!')]) {
      assert.throws(() => openMaterial(bad, sealing, 'k1'), /unknown format/, bad);
    }
    assert.throws(() => sealMaterial(randomBytes(16), sealing, 'k1'), /32 bytes/);
  });
});
