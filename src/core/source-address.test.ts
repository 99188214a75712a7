import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sourceOf } from './source-address.js';

test('a source is an IPv4 address (mapped or not), or the /64 of an IPv6 address', () => {
  assert.equal(sourceOf('192.0.2.7'), '192.0.2.7');
  assert.equal(sourceOf('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(sourceOf('2001:db8:1:2::1'), '2001:db8:1:2::/64');
  assert.equal(sourceOf('2001:DB8:1:2:ffff:1:2:3'), '2001:db8:1:2::/64');
  assert.equal(sourceOf('2001:db8::1:0:0:1%eth0'), '2001:db8:0:0::/64');
  assert.equal(sourceOf('::1'), '0:0:0:0::/64');
  assert.equal(sourceOf(''), '');
});
