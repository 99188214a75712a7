/** The JSON 1.1 body writer gives the bytes the replacer it replaced gave, for short and long lists. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireList, wireJson } from './wire-json.js';

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

  describe('a list written a slice at a time (WireList)', () => {
    const sliced = (items: unknown[], sizes: number[]) => {
      const list = new WireList();
      let at = 0;
      for (const n of sizes) {
        list.add(items.slice(at, at + n));
        at += n;
      }
      assert.equal(at, items.length);
      return list;
    };
    const items = Array.from({ length: 250 }, (_, i) => detail(i));
    const cases: Record<string, [unknown[], number[]]> = {
      'no slice': [[], []],
      'only empty slices': [[], [0, 0]],
      'one item': [items.slice(0, 1), [1]],
      'slices of 100, 100 and 50': [items, [100, 100, 50]],
      'uneven slices with an empty one between': [items.slice(0, 7), [3, 0, 1, 3]],
    };
    for (const [name, [list, sizes]] of Object.entries(cases)) {
      it(`gives the bytes of the whole list: ${name}`, () => {
        const value = { first: 'x', imageDetails: list, nextToken: 'abc' };
        const bytes = wireJson({ first: 'x', imageDetails: sliced(list, sizes), nextToken: 'abc' });
        assert.equal(bytes.toString('utf8'), byReplacer(value));
      });
    }

    it('writes items in wire form as they are, with the bytes toWire would have given', () => {
      const wire = Array.from({ length: 150 }, (_, i) => ({ imageDigest: detail(i).imageDigest, imagePushedAt: 1_700_000_000.123 + i, imageTags: [`v${i}`] }));
      const list = new WireList();
      list.add(wire.slice(0, 100), true);
      list.add(wire.slice(100), true);
      assert.equal(wireJson({ imageDetails: list }).toString(), byReplacer({ imageDetails: wire }));
    });

    it('is the first and only member, too', () => {
      assert.equal(wireJson({ imageIds: sliced(items.slice(0, 3), [2, 1]) }).toString(), byReplacer({ imageIds: items.slice(0, 3) }));
    });

    it("frees its slices' memory once the answer holds their bytes", () => {
      const list = sliced(items, [100, 100, 50]);
      const views = [...list.parts];
      assert.ok(views.some((v) => v.byteLength > 4096));
      const bytes = wireJson({ imageDetails: list });
      assert.equal(bytes.toString('utf8'), byReplacer({ imageDetails: items }));
      // A slice of its own (not of Node's small-buffer pool) is detached: every view of it is empty.
      assert.deepEqual(
        views.filter((v) => v.byteLength > 1),
        [],
      );
    });

    it('refuses to be written anywhere but at the top of an answer', () => {
      assert.throws(() => wireJson({ page: { imageIds: sliced(items.slice(0, 2), [2]) } }), /top-level member/);
      assert.throws(() => wireJson(sliced(items.slice(0, 2), [2])), /top-level member/);
    });
  });
});
