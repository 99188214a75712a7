/** The JSON 1.1 body writer gives the bytes the replacer it replaced gave, for short and long lists. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { wireJson } from './wire-json.js';

/** The rendering wire-json.ts replaced: its output is the contract. */
function byReplacer(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const original = this[key];
    if (original instanceof Date) return original.getTime() / 1000;
    return v === null && !Array.isArray(this) ? undefined : v;
  });
}

const detail = (i: number) => ({
  registryId: '123456789012',
  repositoryName: 'team/web',
  imageDigest: `sha256:${i.toString(16).padStart(64, '0')}`,
  imageSizeInBytes: 1000 + i,
  imagePushedAt: new Date(1_700_000_000_123 + i),
  imageTags: i % 3 === 0 ? [] : [`v${i}`, 'ünïcode-☃'],
  lastRecordedPullTime: i % 2 === 0 ? undefined : null,
  imageScanStatus: { status: 'COMPLETE', description: null },
  nested: [null, undefined, { at: new Date(0), gone: null }, [new Date(1500)]],
});

describe('wireJson', () => {
  const cases: Record<string, unknown> = {
    empty: {},
    'members with nulls, undefined, dates, nested lists and objects': {
      a: null,
      b: undefined,
      c: new Date(1_700_000_000_500),
      d: [1, null, 'x', undefined],
      e: { f: null, g: [{ h: new Date(2000) }] },
      fn: () => 1,
      'quote"key': 'lone \ud800 surrogate',
    },
    'an object that renders itself': { buf: Buffer.from('hi'), custom: { toJSON: (k: string) => ({ key: k, at: new Date(3000) }) } },
    'a short page': { imageDetails: Array.from({ length: 7 }, (_, i) => detail(i)), nextToken: 'abc' },
    'a page of exactly one slice': { imageIds: Array.from({ length: 100 }, (_, i) => ({ imageDigest: detail(i).imageDigest })) },
    'a page one past a slice': { imageIds: Array.from({ length: 101 }, (_, i) => ({ imageDigest: detail(i).imageDigest })) },
    'a long page between other members': { before: 1, imageDetails: Array.from({ length: 1001 }, (_, i) => detail(i)), after: [], nextToken: null },
    'an empty list': { repositories: [] },
  };
  for (const [name, value] of Object.entries(cases)) {
    it(`gives the replacer's bytes: ${name}`, () => {
      const bytes = wireJson(value);
      assert.equal(bytes.toString('utf8'), byReplacer(value));
      assert.deepEqual(JSON.parse(bytes.toString('utf8')), JSON.parse(byReplacer(value)));
    });
  }

  it('writes a timestamp as epoch seconds with its milliseconds', () => {
    assert.equal(wireJson({ t: new Date(1_700_000_000_123) }).toString(), '{"t":1700000000.123}');
  });

  it('leaves the value it was given as it was', () => {
    const value = { imageDetails: [detail(1)], gone: null };
    const before = structuredClone(value);
    wireJson(value);
    assert.deepEqual(value, before);
  });
});
