import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignInThrottle } from './sign-in-throttle.js';

test('failed sign-ins empty a small bucket per identity and per source, which refills slowly', () => {
  let now = 0;
  const clock = { now: () => new Date(now) };
  const t = new SignInThrottle(clock, { burst: 5, refillMs: 1000 }, { burst: 2, refillMs: 60_000 });
  assert.equal(t.retryAfter('10.0.0.1', 'AKIA1'), undefined);
  t.failed('10.0.0.1', 'AKIA1');
  t.failed('10.0.0.1', 'AKIA1');
  assert.equal(t.retryAfter('10.0.0.1', 'AKIA1'), 60, 'the identity is refused for a minute');
  assert.equal(t.retryAfter('10.0.0.2', 'AKIA1'), 60, 'from any address');
  assert.equal(t.retryAfter('10.0.0.1', 'AKIA2'), undefined, 'another identity from the same address may try');
  for (let i = 0; i < 3; i++) t.failed('10.0.0.1', `other${i}`);
  assert.equal(t.retryAfter('10.0.0.1', 'AKIA9'), 1, 'the address has used its five');
  now += 1000;
  assert.equal(t.retryAfter('10.0.0.1', 'AKIA9'), undefined, 'one comes back per second');
  now += 59_000;
  assert.equal(t.retryAfter('10.0.0.2', 'AKIA1'), undefined);
});
