import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.js';

test('a password hash verifies its password only, and two hashes of one password differ (salted)', async () => {
  const a = await hashPassword('Correct-Horse-9');
  const b = await hashPassword('Correct-Horse-9');
  assert.notEqual(a, b);
  assert.match(a, /^scrypt\$32768\$8\$1\$/);
  assert.ok(!a.includes('Correct-Horse-9'));
  assert.equal(await verifyPassword('Correct-Horse-9', a), true);
  assert.equal(await verifyPassword('Correct-Horse-8', a), false);
  assert.equal(await verifyPassword('Correct-Horse-9', undefined), false, 'no hash: false, after the same work');
  assert.equal(await verifyPassword('x'.repeat(129), a), false);
  assert.equal(await verifyPassword('Correct-Horse-9', 'scrypt$1073741824$8$1$AAAA$AAAA'), false, 'absurd parameters are refused, not run');
});

test("new passwords follow IAM's bounds and its default policy's three kinds of characters", () => {
  assert.equal(passwordProblem('Correct-Horse-9'), undefined);
  assert.equal(passwordProblem('abcDEF12'), undefined);
  assert.match(passwordProblem('Ab1!')!, /length of 8 to 128/);
  assert.match(passwordProblem('A1!' + 'x'.repeat(126))!, /length/);
  assert.match(passwordProblem('alllowercase')!, /three of/);
  assert.match(passwordProblem('Abc-\u0100-123')!, /U\+0020 to U\+00FF/);
});
