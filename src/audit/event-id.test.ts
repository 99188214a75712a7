import assert from 'node:assert/strict';
import { test } from 'node:test';
import { timeOrderedUuid } from './event-id.js';

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('event ids are version-7 UUIDs that carry their time and sort by it', () => {
  const at = new Date('2026-12-03T20:00:00.123Z');
  const a = timeOrderedUuid(at);
  assert.match(a, UUID7);
  assert.equal(Number.parseInt(a.replaceAll('-', '').slice(0, 12), 16), at.getTime());
  const later = timeOrderedUuid(new Date(at.getTime() + 1));
  assert.ok(later > a, 'a later id sorts after an earlier one');
});

test('event ids are unique across many draws, past the random pool refill', () => {
  const at = new Date();
  const ids = new Set(Array.from({ length: 5000 }, () => timeOrderedUuid(at)));
  assert.equal(ids.size, 5000);
  for (const id of ids) assert.match(id, UUID7);
});

test('a time outside 48 bits is clamped, never a malformed id', () => {
  assert.match(timeOrderedUuid(new Date(-5)), UUID7);
  assert.match(timeOrderedUuid(new Date(8.64e15)), UUID7);
});
