import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CALLS_PER_TEXT, callValues, unpackCalls } from './audit-batch.js';
import type { AuditedCall } from './cloudtrail-record.js';
import { PackedCalls, packCalls, textsOf } from './packed-calls.js';

const T0 = Date.parse('2026-12-04T22:00:00Z');

function call(i: number): AuditedCall {
  return {
    api: 'oci',
    operation: 'manifest-read',
    method: 'GET',
    principal: { kind: 'user', arn: 'arn:aws:iam::123456789012:user/zoë', accountId: '123456789012', userName: 'zoë', accessKeyId: 'AKIAEXAMPLE' },
    params: { repositoryName: 'web', imageIds: [{ imageTag: `v${i}` }] },
    requestId: `req-${i}`,
    time: new Date(T0 + i),
    region: 'eu-west-1',
    sourceIp: '10.0.0.1',
    // Characters of one to four UTF-8 bytes, and a long one that makes the buffer grow.
    userAgent: i === 7 ? `agent ✓ 🚢 ${'x'.repeat(900)}` : 'skopeo/1.13 ✓',
  };
}

/** The stored format (migration 20): each text the JSON of the flat array of its calls' values. */
function reference(calls: AuditedCall[]): string[] {
  const texts: string[] = [];
  for (let i = 0; i < calls.length; i += CALLS_PER_TEXT) texts.push(JSON.stringify(calls.slice(i, i + CALLS_PER_TEXT).flatMap(callValues)));
  return texts;
}

describe('calls packed as they are recorded', () => {
  it('make exactly the texts the trail stores, split every CALLS_PER_TEXT calls, whatever their characters', () => {
    const calls = Array.from({ length: 2 * CALLS_PER_TEXT + 13 }, (_, i) => call(i));
    // Sized for one call: it grows as calls are added.
    const p = new PackedCalls(1);
    for (const c of calls) p.add(c);
    assert.equal(p.count, calls.length);
    assert.equal(p.firstTime, calls[0]!.time);
    const texts = p.texts();
    assert.deepEqual(texts, reference(calls));
    assert.deepEqual(unpackCalls(texts), calls);
    assert.deepEqual(packCalls([call(1)]), reference([call(1)]));
    assert.deepEqual(packCalls([]), []);
  });

  it("write a caller's values anew whenever any of them differs from the previous call's", () => {
    const role = { name: 'r', roleId: 'AROA1', sessionName: 's' };
    const base = call(1);
    const roleCaller = {
      kind: 'role' as const,
      arn: 'arn:aws:sts::123456789012:assumed-role/r/s',
      accountId: '123456789012',
      accessKeyId: 'ASIAX',
      principalArn: 'arn:aws:iam::123456789012:role/r',
      session: { role },
    };
    const asRole = { principal: roleCaller };
    // Each a run of two calls `from`, the second only a copy of the first, then a run of two
    // `to`: one input of the caller changed.
    const changes: Array<[from: Partial<AuditedCall>, to: Partial<AuditedCall>]> = [
      [{}, {}],
      [{}, { api: 'ecr-public' }],
      [{}, { operation: 'blob-read' }],
      [{}, { method: 'HEAD' }],
      [{}, { principal: { ...base.principal, arn: 'arn:aws:iam::123456789012:user/ann' } }],
      [{}, { principal: { ...base.principal, accountId: '210987654321' } }],
      [{}, { principal: { ...base.principal, userName: 'ann' } }],
      [{}, { principal: { ...base.principal, accessKeyId: 'AKIAOTHER' } }],
      [{}, { principal: { ...base.principal, kind: 'root' } }],
      [asRole, { principal: { ...roleCaller, principalArn: 'arn:aws:iam::123456789012:role/q' } }],
      [asRole, { principal: { ...roleCaller, session: { role: { ...role, name: 'q' } } } }],
      [asRole, { principal: { ...roleCaller, session: { role: { ...role, roleId: 'AROA2' } } } }],
      [asRole, { principal: { ...roleCaller, session: { role: { ...role, sessionName: 't' } } } }],
    ];
    const twice = (c: Partial<AuditedCall>, i: number) => [
      { ...call(i), ...c },
      { ...call(i + 1), ...c, ...(c.principal && { principal: { ...c.principal } }) },
    ];
    const calls = changes.flatMap(([from, to], i) => [...twice(from, 4 * i), ...twice(to, 4 * i + 2)]);
    const p = new PackedCalls(1);
    for (const c of calls) p.add(c);
    assert.deepEqual(p.texts(), reference(calls));
    assert.deepEqual(unpackCalls(p.texts()), calls);
  });

  it("repeat a flood's call from the previous one's bytes, and write anew whatever differs but its request id and time", () => {
    // A /v2 manifest GET's call: flat parameters, a randomUUID request id, the same client.
    const get = (i: number, c: Partial<AuditedCall> = {}): AuditedCall => ({
      ...call(i),
      params: { name: 'web', reference: 'v1' },
      requestId: `0f8e2a1c-3b4d-4e5f-8a9b-${String(i).padStart(12, '0')}`,
      userAgent: 'skopeo/1.13',
      ...c,
    });
    const mutable = { name: 'web', reference: 'v1' };
    // Each change a run of three calls (so the second and third repeat it) after a run of the base
    // call; a list's changes in runs one after another.
    const changes: Array<Partial<AuditedCall> | Array<Partial<AuditedCall>>> = [
      {},
      { params: { reference: 'v1', name: 'web' } },
      [{ params: { name: 'x', reference: 'x' } }, { params: { reference: 'x', name: 'x' } }],
      { params: { name: 'web', reference: 'v2' } },
      { params: { reference: 'v2', name: 'web' } },
      { params: { name: 'web' } },
      { params: { name: 'web', reference: 'v2', extra: 'x' } },
      { params: { name: 'web', n: 2 } as unknown as Record<string, unknown> },
      { params: undefined },
      { params: {} },
      { params: mutable },
      [
        { error: { code: 'ManifestUnknown', message: 'no such manifest' } },
        { error: { code: 'ManifestUnknown', message: 'no such manifest, "quoted"' } },
        { error: { code: 'NameUnknown', message: 'no such manifest, "quoted"' } },
      ],
      { region: 'us-east-1' },
      { sourceIp: '10.0.0.2' },
      { sourceIp: undefined },
      { userAgent: 'skopeo/1.14 ✓' },
      { userAgent: undefined },
      { requestId: 'short' },
      { requestId: '0f8e2a1c-3b4d-4e5f-8a9b-000000000"\\0' },
      { requestId: '0f8e2a1c-3b4d-4e5f-8a9b-0000000000é0' },
      { time: new Date(9_999) },
      { time: new Date(10_000) },
      { time: new Date(0) },
      { time: new Date(-5) },
      { time: new Date(Number.NaN) },
      { time: new Date(8.64e15) },
    ];
    const calls: AuditedCall[] = [];
    let i = 0;
    for (const change of changes) {
      for (let k = 0; k < 3; k++) calls.push(get(i++));
      for (const c of [change].flat()) for (let k = 0; k < 3; k++) calls.push(get(i++, c));
    }
    const p = new PackedCalls(1);
    for (const [n, c] of calls.entries()) {
      p.add(c);
      // An object the previous call named, changed in place before the next call names it again.
      if (c.params === mutable && calls[n + 1]?.params === mutable) mutable.reference = `v${n}`;
    }
    // Built after the mutations, so the reference sees what the packing saw only where the calls repeat it.
    const expected = calls.map((c, n) =>
      c.params === mutable ? { ...c, params: { name: 'web', reference: n > 0 && calls[n - 1]!.params === mutable ? `v${n - 1}` : 'v1' } } : c,
    );
    assert.ok(calls.length > CALLS_PER_TEXT, 'texts are split within runs too');
    assert.deepEqual(p.texts(), reference(expected));
  });

  it('cross as bytes of their own, and keep a prefix whole', () => {
    const calls = Array.from({ length: CALLS_PER_TEXT + 5 }, (_, i) => call(i));
    const p = new PackedCalls(calls.length);
    for (const c of calls) p.add(c);
    const { bytes, ends } = p.wire();
    assert.equal(bytes.byteOffset, 0);
    assert.equal(bytes.buffer.byteLength, bytes.byteLength, 'a buffer of its own, so moving it to the thread moves only it');
    assert.deepEqual(textsOf(bytes, ends), reference(calls));
    for (const n of [1, CALLS_PER_TEXT - 1, CALLS_PER_TEXT, CALLS_PER_TEXT + 1, calls.length]) {
      const prefix = p.prefix(n);
      assert.equal(prefix.count, n);
      assert.deepEqual(prefix.texts(), reference(calls.slice(0, n)), `the first ${n}`);
    }
    assert.deepEqual(p.texts(), reference(calls), 'taking a prefix leaves the batch as it was');
  });

  it('hand their memory to the next batch once stored, which packs as a new one; a spare too small is left alone', () => {
    const first = Array.from({ length: CALLS_PER_TEXT + 5 }, (_, i) => call(i));
    const stored = new PackedCalls(first.length);
    for (const c of first) stored.add(c);
    const sent = stored.wire();
    const next = new PackedCalls(first.length, stored);
    assert.equal(stored.count, 0, 'the stored batch gave its memory away');
    assert.deepEqual(stored.texts(), []);
    const later = [call(100), call(7), call(101)];
    for (const c of later) next.add(c);
    assert.deepEqual(next.texts(), reference(later), 'nothing of the earlier calls shows through');
    assert.equal(next.firstTime, later[0]!.time);
    assert.deepEqual(textsOf(sent.bytes, sent.ends), reference(first), 'what crossed to the thread is a copy of its own');
    const small = new PackedCalls(1);
    small.add(call(1));
    const big = new PackedCalls(first.length, small);
    big.add(call(2));
    assert.deepEqual(small.texts(), reference([call(1)]));
    assert.deepEqual(big.texts(), reference([call(2)]));
  });
});
