import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePattern, InvalidPatternError, MAX_CONDITIONS, MAX_DEPTH, MAX_PATTERN_CHARS } from './pattern.js';

const push = {
  version: '0',
  id: 'e1',
  'detail-type': 'ECR Image Action',
  source: 'aws.ecr',
  account: '123456789012',
  region: 'us-east-1',
  resources: ['arn:aws:ecr:us-east-1:123456789012:repository/team/web', 'other'],
  detail: {
    result: 'SUCCESS',
    'repository-name': 'team/web',
    'image-tag': 'v1.2',
    'action-type': 'PUSH',
    'finding-severity-counts': { CRITICAL: 3, HIGH: 0 },
    flag: null,
    ok: true,
  },
};

const matches = (pattern: unknown, event: unknown = push) => compilePattern(JSON.stringify(pattern))(event);
const refused = (pattern: unknown | string) =>
  assert.throws(() => compilePattern(typeof pattern === 'string' ? pattern : JSON.stringify(pattern)), InvalidPatternError);

describe('event patterns', () => {
  it('exact values: any listed value, every named field (nested)', () => {
    assert.equal(matches({ source: ['aws.ecr'] }), true);
    assert.equal(matches({ source: ['aws.s3', 'aws.ecr'], 'detail-type': ['ECR Image Action'] }), true);
    assert.equal(matches({ source: ['aws.ecr'], 'detail-type': ['ECR Image Scan'] }), false);
    assert.equal(matches({ detail: { 'action-type': ['PUSH'], 'repository-name': ['team/web'] } }), true);
    assert.equal(matches({ detail: { 'action-type': ['DELETE'] } }), false);
    assert.equal(matches({ detail: { flag: [null], ok: [true] } }), true);
    assert.equal(matches({ detail: { ok: ['true'] } }), false, 'a string is not a boolean');
    assert.equal(matches({ resources: ['other'] }), true, 'an array field matches when any element does');
    assert.equal(matches({ detail: ['x'] }), false, 'a leaf condition never matches an object');
    assert.equal(matches({ source: { x: ['y'] } }), false, 'a nested pattern never matches a string');
  });

  it('prefix, suffix, equals-ignore-case', () => {
    assert.equal(matches({ detail: { 'image-tag': [{ prefix: 'v1.' }] } }), true);
    assert.equal(matches({ detail: { 'image-tag': [{ prefix: 'v2.' }] } }), false);
    assert.equal(matches({ detail: { 'image-tag': [{ suffix: '.2' }] } }), true);
    assert.equal(matches({ detail: { 'image-tag': [{ prefix: { 'equals-ignore-case': 'V1' } }] } }), true);
    assert.equal(matches({ 'detail-type': [{ 'equals-ignore-case': 'ecr image action' }] }), true);
  });

  it('anything-but: a value, a list, a prefix; a missing field does not match', () => {
    assert.equal(matches({ detail: { 'action-type': [{ 'anything-but': 'DELETE' }] } }), true);
    assert.equal(matches({ detail: { 'action-type': [{ 'anything-but': ['PUSH', 'DELETE'] }] } }), false);
    assert.equal(matches({ detail: { 'image-tag': [{ 'anything-but': { prefix: 'v1' } }] } }), false);
    assert.equal(matches({ detail: { 'image-tag': [{ 'anything-but': { prefix: 'dev-' } }] } }), true);
    assert.equal(matches({ detail: { missing: [{ 'anything-but': 'x' }] } }), false);
  });

  it('exists', () => {
    assert.equal(matches({ detail: { 'image-tag': [{ exists: true }] } }), true);
    assert.equal(matches({ detail: { 'image-tag': [{ exists: false }] } }), false);
    assert.equal(matches({ detail: { 'artifact-media-type': [{ exists: false }] } }), true);
    assert.equal(matches({ detail: { 'artifact-media-type': [{ exists: true }] } }), false);
  });

  it('numeric ranges', () => {
    const critical = (cond: unknown[]) => matches({ detail: { 'finding-severity-counts': { CRITICAL: [{ numeric: cond }] } } });
    assert.equal(critical(['>', 0]), true);
    assert.equal(critical(['>', 0, '<=', 3]), true);
    assert.equal(critical(['>', 3]), false);
    assert.equal(critical(['=', 3]), true);
    assert.equal(matches({ detail: { 'image-tag': [{ numeric: ['>', 0] }] } }), false, 'a string is not a number');
  });

  it('refuses malformed patterns', () => {
    refused('not json');
    refused('[]');
    refused({});
    refused({ source: 'aws.ecr' });
    refused({ source: [] });
    refused({ detail: {} });
    refused({ source: [{ wildcard: '*' }] });
    refused({ source: [{ prefix: 'a', suffix: 'b' }] });
    refused({ source: [{ prefix: 1 }] });
    refused({ source: [{ exists: 'yes' }] });
    refused({ source: [{ numeric: ['>'] }] });
    refused({ source: [{ numeric: ['~', 1] }] });
    refused({ source: [{ numeric: ['>', 1e10] }] });
    refused({ source: [{ 'anything-but': [] }] });
    refused({ source: [{ 'anything-but': [{ a: 1 }] }] });
    refused({ source: [[1]] });
  });

  it('bounds hostile patterns: depth, size and number of values', () => {
    let deep: unknown = ['x'];
    for (let i = 0; i < MAX_DEPTH + 1; i++) deep = { a: deep };
    refused(deep);
    let ok: unknown = ['x'];
    for (let i = 0; i < MAX_DEPTH - 1; i++) ok = { a: ok };
    assert.equal(matches(ok, {}), false);
    // A pathological nesting within the size limit fails fast on depth, not on the stack.
    refused(`${'{"a":'.repeat(800)}["x"]${'}'.repeat(800)}`);
    refused({ source: Array.from({ length: MAX_CONDITIONS + 1 }, (_, i) => i) });
    refused({ source: ['x'.repeat(MAX_PATTERN_CHARS)] });
    // Matching an event with a huge array field is linear in its size.
    const huge = { ...push, resources: Array.from({ length: 100_000 }, (_, i) => `r${i}`) };
    assert.equal(matches({ resources: [{ prefix: 'r99999' }] }, huge), true);
    assert.equal(matches({ source: ['aws.ecr'] }, 'not an object'), false);
  });
});
