import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accountOf, parseRegistryKey, regionOf, registryKey, registryKeyText, storedAccountPrefix, type RegistryKey } from './registry-key.js';

test('a registry key is stored as "account:region", the text the metadata store has always held', () => {
  const key = registryKey('123456789012', 'eu-west-1');
  assert.equal(registryKeyText(key), '123456789012:eu-west-1');
  assert.equal(accountOf(key), '123456789012');
  assert.equal(regionOf(key), 'eu-west-1');
  assert.ok(registryKeyText(key).startsWith(storedAccountPrefix('123456789012')));
  assert.ok(!registryKeyText(key).startsWith(storedAccountPrefix('12345678901')));
  // Keys compare and key Maps by value, as the strings they replace did.
  assert.equal(parseRegistryKey('123456789012:eu-west-1'), key);
  assert.equal(new Map([[key, 1]]).get(registryKey('123456789012', 'eu-west-1')), 1);
  const publicKey = registryKey('123456789012', 'public');
  assert.equal(regionOf(parseRegistryKey(registryKeyText(publicKey))), 'public');
});

test('anything but one account and one region is refused, so a stored key splits back the same', () => {
  for (const text of ['123456789012', '123456789012:', ':us-east-1', '1:2:3', '', '123 456:us-east-1']) {
    assert.throws(() => parseRegistryKey(text), /not a (stored )?registry key/, text);
  }
  assert.throws(() => registryKey('123456789012:us-east-1', 'us-east-1'), /not a registry key/);
  assert.throws(() => registryKey('123456789012', ''), /not a registry key/);
});

test('the compiler keeps a wire registryId (a bare account) and a registry key apart, both ways', () => {
  const wireRegistryId = '123456789012';
  // @ts-expect-error ECR's registryId is an account, not a key: the build fails if this compiles.
  const notAKey: RegistryKey = wireRegistryId;
  const key = registryKey(wireRegistryId, 'us-east-1');
  // @ts-expect-error A key is not a wire registryId either: the wire takes accountOf(key).
  const notAnAccount: string = key;
  // What would have happened at run time: the wrong thing on each side (a truncated account, and
  // "account:region" where ECR's registryId belongs).
  assert.equal(accountOf(notAKey), '12345678901');
  assert.notEqual(notAnAccount, wireRegistryId);
});
