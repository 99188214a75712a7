import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conditionHolds } from './evaluator.js';

const ctx = (o: Record<string, string[]>) => new Map(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
const holds = (op: string, values: string[], actual?: string[]) => conditionHolds(op, 'x:k', values, ctx(actual === undefined ? {} : { 'x:k': actual }));

describe('condition operators', () => {
  it('Numeric*', () => {
    assert.equal(holds('NumericEquals', ['10'], ['10.0']), true);
    assert.equal(holds('NumericEquals', ['10'], ['11']), false);
    assert.equal(holds('NumericNotEquals', ['10'], ['11']), true);
    assert.equal(holds('NumericNotEquals', ['10'], ['10']), false);
    assert.equal(holds('NumericLessThan', ['10'], ['9']), true);
    assert.equal(holds('NumericLessThan', ['10'], ['10']), false);
    assert.equal(holds('NumericLessThanEquals', ['10'], ['10']), true);
    assert.equal(holds('NumericLessThanEquals', ['10'], ['10.5']), false);
    assert.equal(holds('NumericGreaterThan', ['10'], ['11']), true);
    assert.equal(holds('NumericGreaterThan', ['10'], ['10']), false);
    assert.equal(holds('NumericGreaterThanEquals', ['-1.5'], ['-1.5']), true);
    assert.equal(holds('NumericGreaterThanEquals', ['0'], ['-1']), false);
    assert.equal(holds('NumericEquals', ['10'], ['ten']), false, 'a non-numeric context value does not match');
  });

  it('Date*, with ISO 8601 dates and epoch seconds', () => {
    const t = ['2024-06-01T12:00:00Z'];
    assert.equal(holds('DateEquals', ['2024-06-01T12:00:00Z'], t), true);
    assert.equal(holds('DateEquals', ['1717243200'], t), true, 'epoch seconds compare with ISO dates');
    assert.equal(holds('DateNotEquals', ['2024-06-01'], t), true);
    assert.equal(holds('DateNotEquals', ['2024-06-01T12:00:00Z'], t), false);
    assert.equal(holds('DateLessThan', ['2025-01-01T00:00:00Z'], t), true);
    assert.equal(holds('DateLessThan', ['2024-01-01T00:00:00Z'], t), false);
    assert.equal(holds('DateLessThanEquals', ['2024-06-01T12:00:00Z'], t), true);
    assert.equal(holds('DateGreaterThan', ['2024-01-01'], t), true);
    assert.equal(holds('DateGreaterThan', ['2024-06-01T12:00:00Z'], t), false);
    assert.equal(holds('DateGreaterThanEquals', ['2024-06-01T14:00:00+02:00'], t), true);
  });

  it('Date*: a date and time without an offset is UTC, whatever the host time zone', () => {
    const tz = process.env.TZ;
    process.env.TZ = 'Etc/GMT+12';
    try {
      const t = ['2024-06-01T12:00:00Z'];
      assert.equal(holds('DateEquals', ['2024-06-01T12:00:00'], t), true);
      assert.equal(holds('DateEquals', ['2024-06-01T12:00'], t), true);
      assert.equal(holds('DateGreaterThan', ['2024-06-01T11:00:00'], t), true);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('Bool, BinaryEquals, Null', () => {
    assert.equal(holds('Bool', ['true'], ['true']), true);
    assert.equal(holds('Bool', ['false'], ['true']), false);
    assert.equal(holds('BinaryEquals', ['QmVydGg='], ['QmVydGg=']), true);
    assert.equal(holds('BinaryEquals', ['QmVydGg='], ['QmVydGh4']), false);
    assert.equal(holds('Null', ['true']), true);
    assert.equal(holds('Null', ['true'], ['x']), false);
    assert.equal(holds('Null', ['false'], ['x']), true);
    assert.equal(holds('Null', ['false']), false);
  });

  it('String*, Arn* and IpAddress forms', () => {
    assert.equal(holds('StringEqualsIgnoreCase', ['PROD'], ['prod']), true);
    assert.equal(holds('StringNotEqualsIgnoreCase', ['PROD'], ['prod']), false);
    assert.equal(holds('StringNotLike', ['ci-*'], ['dev-1']), true);
    assert.equal(holds('ArnEquals', ['arn:aws:iam::*:user/ci'], ['arn:aws:iam::111111111111:user/ci']), true, 'ArnEquals takes wildcards per segment');
    assert.equal(holds('ArnLike', ['arn:aws:iam::111111111111:*'], ['arn:aws:iam::222222222222:root']), false);
    assert.equal(holds('ArnNotEquals', ['arn:aws:iam::111111111111:root'], ['arn:aws:iam::111111111111:root']), false);
    assert.equal(holds('NotIpAddress', ['192.168.0.0/16'], ['10.0.0.1']), true);
  });

  it('IfExists holds when the key is missing and tests it when present', () => {
    assert.equal(holds('NumericLessThanIfExists', ['10']), true);
    assert.equal(holds('NumericLessThanIfExists', ['10'], ['20']), false);
    assert.equal(holds('DateGreaterThanIfExists', ['2024-01-01']), true);
    assert.equal(holds('BoolIfExists', ['true'], ['false']), false);
    assert.equal(holds('BinaryEqualsIfExists', ['QmVydGg=']), true);
    assert.equal(holds('IpAddressIfExists', ['10.0.0.0/8'], ['11.0.0.1']), false);
    // Without IfExists a missing key fails a positive operator and passes a negated one.
    assert.equal(holds('NumericLessThan', ['10']), false);
    assert.equal(holds('NumericNotEquals', ['10']), true);
    assert.equal(holds('Bool', ['false']), false);
  });

  it('ForAllValues and ForAnyValue over multi-valued keys, and a missing key', () => {
    const vals = ['3', '5'];
    assert.equal(holds('ForAllValues:NumericLessThan', ['6'], vals), true);
    assert.equal(holds('ForAllValues:NumericLessThan', ['4'], vals), false);
    assert.equal(holds('ForAnyValue:NumericLessThan', ['4'], vals), true);
    assert.equal(holds('ForAnyValue:NumericGreaterThan', ['9'], vals), false);
    assert.equal(holds('ForAnyValue:StringNotEquals', ['3'], vals), true);
    assert.equal(holds('ForAllValues:StringNotEquals', ['3'], vals), false);
    assert.equal(holds('ForAllValues:StringEquals', ['a']), true, 'ForAllValues holds for a missing key');
    assert.equal(holds('ForAnyValue:StringEquals', ['a']), false, 'ForAnyValue does not');
    assert.equal(holds('ForAnyValue:StringNotEquals', ['a']), false);
    assert.equal(holds('ForAnyValue:StringEqualsIfExists', ['a']), true);
    assert.equal(holds('ForAnyValue:DateLessThan', ['2024-01-01'], ['2023-01-01', '2025-01-01']), true);
  });

  it('an operator IAM does not have never holds', () => {
    assert.equal(holds('StringEqualz', ['a'], ['a']), false);
    assert.equal(holds('NullIfExists', ['true']), false);
  });
});
