import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LifecyclePolicyError, parseLifecyclePolicy } from './lifecycle-policy-validation.js';

/** A policy text of the rules given, padded past ECR's 100-character minimum. */
const doc = (rules: unknown[]) => JSON.stringify({ rules }).padEnd(100, ' ');
const rule = (priority: number, selection: object, action: object = { type: 'expire' }) => ({ rulePriority: priority, selection, action });
const tagged = (priority: number, prefixes: string[]) =>
  rule(priority, { tagStatus: 'tagged', tagPrefixList: prefixes, countType: 'imageCountMoreThan', countNumber: 5 });

describe('parseLifecyclePolicy', () => {
  it('accepts ECR documents and sorts rules by priority', () => {
    const p = parseLifecyclePolicy(
      doc([
        rule(10, { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 100 }),
        rule(1, { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 }),
        tagged(2, ['v']),
        rule(3, { tagStatus: 'tagged', tagPatternList: ['prod*', '*-rc*'], countType: 'sinceImagePulled', countUnit: 'days', countNumber: 30 }),
        rule(
          4,
          { tagStatus: 'tagged', tagPrefixList: ['old'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 30 },
          { type: 'transition', targetStorageClass: 'archive' },
        ),
      ]),
    );
    assert.deepEqual(
      p.rules.map((r) => r.rulePriority),
      [1, 2, 3, 4, 10],
    );
    assert.equal(p.rules[0]!.selection.storageClass, 'standard');
  });

  const bad: Array<[string, string, RegExp]> = [
    ['not JSON', '{'.padEnd(100, ' '), /Could not map policyString into LifecyclePolicy/],
    ['no rules', JSON.stringify({ x: 1 }).padEnd(100, ' '), /missing required properties \(\["rules"\]\)/],
    ['unknown property', JSON.stringify({ rules: [tagged(1, ['a'])], x: 1 }).padEnd(100, ' '), /not allowed by the schema: \(\["x"\]\)/],
    ['bad enum', doc([rule(1, { tagStatus: 'some', countType: 'imageCountMoreThan', countNumber: 1 })]), /not found in enum/],
    ['priority 0', doc([{ ...tagged(1, ['a']), rulePriority: 0 }]), /lower than the required minimum \(minimum: 1, found: 0\)/],
    ['duplicate priority', doc([tagged(1, ['a']), tagged(1, ['b'])]), /more than one rule/],
    ['tagged without a list', doc([rule(1, { tagStatus: 'tagged', countType: 'imageCountMoreThan', countNumber: 1 })]), /exactly one of/],
    ['untagged with a list', doc([rule(1, { tagStatus: 'untagged', tagPrefixList: ['a'], countType: 'imageCountMoreThan', countNumber: 1 })]), /must not have/],
    [
      'five wildcards',
      doc([rule(1, { tagStatus: 'tagged', tagPatternList: ['a*b*c*d*e*'], countType: 'imageCountMoreThan', countNumber: 1 })]),
      /more than 4 wildcards/,
    ],
    [
      'countUnit with a count',
      doc([rule(1, { tagStatus: 'any', countType: 'imageCountMoreThan', countUnit: 'days', countNumber: 1 })]),
      /countUnit must not be set/,
    ],
    ['since without unit', doc([rule(1, { tagStatus: 'any', countType: 'sinceImagePushed', countNumber: 1 })]), /countUnit is required/],
    ['any not last', doc([rule(1, { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }), tagged(2, ['a'])]), /highest rulePriority/],
    [
      'two untagged',
      doc([
        rule(1, { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }),
        rule(2, { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 2 }),
      ]),
      /only one rule/,
    ],
    ['shared prefix', doc([tagged(1, ['v']), tagged(2, ['v'])]), /tag prefix v/],
    [
      'transition without class',
      doc([rule(1, { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 }, { type: 'transition' })]),
      /targetStorageClass archive/,
    ],
    [
      'transitioned too soon',
      doc([rule(1, { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 30 })]),
      /90 days/,
    ],
    [
      'archive with a push age',
      doc([rule(1, { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 3 })]),
      /storageClass archive/,
    ],
    ['too short', '{"rules":[]}', /100 to 30720/],
  ];
  for (const [name, text, why] of bad) {
    it(`refuses: ${name}`, () => {
      assert.throws(
        () => parseLifecyclePolicy(text),
        (e: unknown) => {
          assert.ok(e instanceof LifecyclePolicyError);
          assert.match(e.message, /^Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: /);
          assert.match(e.message, why);
          return true;
        },
      );
    });
  }
});
