import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignInThrottle } from './sign-in-throttle.js';

test('failed sign-ins empty a small bucket per identity and per source, which refills slowly', () => {
  let now = 0;
  const clock = { now: () => new Date(now) };
  const t = new SignInThrottle(clock, { source: { burst: 5, refillMs: 1000 }, identity: { burst: 2, refillMs: 60_000 } });
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

test('an IPv6 source counts by its /64, whichever of its addresses it sends from; IPv4 by its address, mapped or not', () => {
  const clock = { now: () => new Date(0) };
  const t = new SignInThrottle(clock, { source: { burst: 3, refillMs: 10_000 }, identity: { burst: 100, refillMs: 60_000 } });
  for (let i = 1; i <= 3; i++) t.failed(`2001:db8:1:2::${i.toString(16)}`, `AKIA${i}`);
  assert.equal(t.retryAfter('2001:db8:1:2:ffff:1:2:3', 'AKIA9'), 10, 'another address of the same /64 is refused');
  assert.equal(t.retryAfter('2001:db8:1:3::1', 'AKIA9'), undefined, 'the next /64 is another source');
  for (let i = 1; i <= 3; i++) t.failed('::ffff:192.0.2.7', `AKIB${i}`);
  assert.equal(t.retryAfter('192.0.2.7', 'AKIB9'), 10, 'an IPv4 client reached over a dual-stack socket is the same source');
  assert.equal(t.retryAfter('::ffff:192.0.2.8', 'AKIB9'), undefined, 'and only itself, not its /64');
});

test('at its cap the throttle keeps every bucket that holds a penalty: spraying new sources flushes no identity', () => {
  const clock = { now: () => new Date(0) };
  const t = new SignInThrottle(clock, { source: { burst: 3, refillMs: 1000 }, identity: { burst: 2, refillMs: 60_000 }, maxBuckets: 6 });
  t.failed('10.0.0.1', 'victim');
  t.failed('10.0.0.1', 'victim');
  assert.equal(t.retryAfter('10.0.0.1', 'victim'), 60);
  // Each spray failure adds a source and an identity bucket, until the cap of six is reached and beyond.
  for (let i = 2; i < 50; i++) t.failed(`10.0.1.${i}`, `spray${i}`);
  assert.equal(t.retryAfter('10.0.9.9', 'victim'), 60, 'the guessed identity is still refused from a fresh source');
  assert.equal(t.retryAfter('10.0.9.9', 'spray2'), 1, 'a new source is throttled with the sprayers, in the overflow bucket');
});

test('at its cap a new source shares one overflow bucket until some bucket has refilled, then gets its own', () => {
  let now = 0;
  const clock = { now: () => new Date(now) };
  const t = new SignInThrottle(clock, { source: { burst: 2, refillMs: 1000 }, identity: { burst: 100, refillMs: 1000 }, maxBuckets: 2 });
  t.failed('10.0.0.1', 'a');
  assert.equal(t.retryAfter('10.0.0.2', 'b'), undefined, 'the overflow bucket is full: a new source may try');
  t.failed('10.0.0.2', 'b');
  t.failed('10.0.0.3', 'c');
  assert.equal(t.retryAfter('10.0.0.4', 'd'), 1, 'two new sources have emptied the bucket they share: a third is refused with them');
  assert.equal(t.retryAfter('10.0.0.1', 'e'), undefined, 'a source with a bucket of its own is judged by it');
  now += 2000;
  t.failed('10.0.0.5', 'f');
  t.failed('10.0.0.5', 'f');
  assert.equal(t.retryAfter('10.0.0.5', 'g'), 1, 'once the old buckets refilled and were dropped, the new source has its own');
  assert.equal(t.retryAfter('10.0.0.6', 'h'), undefined, 'the shared overflow bucket refills as any other');
});
