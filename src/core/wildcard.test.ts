import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tokensMatch, tokensMatchCounted, wildcardTokens } from './wildcard.js';

const iam = (p: string, v: string, ignoreCase = false) => tokensMatch(wildcardTokens(p, true), v, ignoreCase);
const ecr = (p: string, v: string) => tokensMatch(wildcardTokens(p, false), v);

describe('wildcard matching', () => {
  it('matches as the anchored RegExp it replaces', () => {
    const cases: [string, string, boolean][] = [
      ['*', '', true],
      ['', '', true],
      ['', 'a', false],
      ['a*', 'abc', true],
      ['*c', 'abc', true],
      ['a*c', 'ac', true],
      ['a*c', 'abcb', false],
      ['a*b*c', 'aXbYbZc', true],
      ['a*b*c', 'aXcYb', false],
      ['?', 'é', true],
      ['a?c', 'abc', true],
      ['a?c', 'ac', false],
      ['**a**', 'bab', true],
      ['*ab', 'aab', true],
      ['*aab', 'aaab', true],
      ['*.*', 'a\nb.c', true],
      ['repo/*/x', 'repo/a/b/x', true],
      ['a?c', 'a\u{1d49c}c', true],
      ['a??c', 'a\u{1d49c}c', false],
    ];
    for (const [p, v, want] of cases) {
      const re = new RegExp(
        `^${p
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.')}$`,
        'su',
      );
      assert.equal(re.test(v), want, `the RegExp: ${p} ~ ${v}`);
      assert.equal(iam(p, v), want, `${p} ~ ${v}`);
    }
  });

  it('folds case only when asked, and ECR filters take ? literally', () => {
    assert.equal(iam('ecr:get*', 'ecr:GetAuthorizationToken', true), true);
    assert.equal(iam('ecr:get*', 'ecr:GetAuthorizationToken'), false);
    assert.equal(ecr('v?', 'v1'), false);
    assert.equal(ecr('v?', 'v?'), true);
    assert.equal(ecr('prod-*', 'prod-1'), true);
  });

  it('takes at most |pattern| × |value| steps on a pattern that makes a RegExp backtrack', () => {
    // `^.*a.*a…b$` against a run of a's is C(n, stars) steps for V8: 5 stars and 250
    // characters took 20 CPU-seconds. Here the bound is the product.
    const value = `arn:aws:ecr:us-east-1:123456789012:repository/${'a'.repeat(2000)}`;
    for (const stars of [5, 20, 200]) {
      const pattern = `${'*a'.repeat(stars)}*b`;
      const { matched, steps } = tokensMatchCounted(wildcardTokens(pattern, true), value);
      assert.equal(matched, false);
      assert.ok(steps <= (pattern.length + 1) * (value.length + 1), `${stars} stars: ${steps} steps`);
    }
    const { matched, steps } = tokensMatchCounted(wildcardTokens(`${'*a'.repeat(20)}*`, true), value);
    assert.equal(matched, true);
    assert.ok(steps <= 2 * value.length + 40, `a match in one pass: ${steps} steps`);
  });
});
