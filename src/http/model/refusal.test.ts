/** One walker, three wordings: what a refusal says on each protocol, from the same constraints. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { blob, blobBytes, integer, list, oneOf, patterned, rule, text } from './constraints.js';
import { parseJsonInput } from './json.js';
import { formInput, MalformedMember } from './query.js';
import { type Refusal, refusal, type Wording } from './refusal.js';

const members = {
  Name: patterned(1, 8, '[a-z]+'),
  Count: integer(1, 10),
  Mode: oneOf(['A', 'B']),
  Tags: list(z.object({ Key: text(1, 3), Value: text(0, 3) }).partial(), 0, 2),
  Ids: list(text(1, 4), 1),
};
const schema = z.object(members).partial();

const quoted: Wording = { lowerFirst: true, quote: (v) => (Array.isArray(v) ? undefined : `'${String(v)}'`) };

function refused(input: unknown, wording: Wording, s: z.ZodType = schema): Refusal {
  const r = s.safeParse(input);
  assert.ok(!r.success, 'accepted');
  return refusal(r.error.issues, input, wording);
}

describe('refusal', () => {
  it('words every broken member once, in the model’s numbers, joined as AWS joins them', () => {
    const r = refused({ Name: 'AB', Count: 11, Mode: 'C', Tags: [{}, {}, {}] }, quoted);
    assert.deepEqual(r, {
      kind: 'validation',
      message:
        '4 validation errors detected: ' +
        "Value 'AB' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-z]+; " +
        "Value '11' at 'count' failed to satisfy constraint: Member must have value less than or equal to 10; " +
        "Value 'C' at 'mode' failed to satisfy constraint: Member must satisfy enum value set: [A, B]; " +
        "Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 2",
    });
  });

  it('names list items from 1, and quotes nothing where the wording says so', () => {
    const r = refused({ Tags: [{ Key: 'a' }, { Key: 'long' }] }, { lowerFirst: true, quote: () => undefined });
    assert.equal(
      r.kind === 'validation' && r.message,
      "1 validation error detected: Value at 'tags.2.member.key' failed to satisfy constraint: Member must have length less than or equal to 3",
    );
  });

  it('puts a member of the wrong type (or a blob that is not base64) before any constraint', () => {
    assert.deepEqual(refused({ Name: 'AB', Count: 1.5 }, quoted), { kind: 'serialization', message: "Unexpected value type at 'count': expected an integer" });
    const b = z.object({ Data: blob(1, 2) });
    assert.deepEqual(refused({ Data: 'not base64' }, quoted, b), {
      kind: 'serialization',
      message: "Unexpected value type at 'data': expected base64-encoded binary",
    });
    assert.match((refused({ Data: 'AAAA' }, quoted, b) as { message: string }).message, /Member must have length less than or equal to 2$/);
    // What Node's lenient decoder would read anyway: a space, base64url, padding inside.
    for (const text of ['AA A', 'AA-_', 'A=AA']) assert.equal(refused({ Data: text }, quoted, b).kind, 'serialization', text);
    assert.deepEqual(z.object({ Data: blobBytes(1, 2) }).parse({ Data: 'AAE=' }), { Data: Buffer.from([0, 1]) });
  });

  it('leaves a pattern of no model to the service’s own rule', () => {
    assert.deepEqual(refused({ v: 'x' }, quoted, z.object({ v: z.string().regex(/^y$/, 'must be y') })), { kind: 'rule', field: 'v', why: 'must be y' });
  });
});

describe('parseJsonInput', () => {
  const error = (kind: string, message: string) => Object.assign(new Error(message), { kind });
  it('takes null for absent, as the AWS JSON protocol does', () => {
    assert.deepEqual(parseJsonInput(schema, { Name: 'ok', Count: null }, error), { Name: 'ok' });
    assert.throws(() => parseJsonInput(z.object({ KeyId: text(1) }), { KeyId: null }, error), {
      kind: 'validation',
      message: "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
    });
  });

  it("words a service's rule in the model's form, or in its own words when it has them; a model constraint first", () => {
    const s = z.object({
      Alg: rule(text(1, 8), (v) => v === 'ok', 'Member must be ok').optional(),
      Name: rule(text(1, 4), (v) => !v.includes(' '), 'Invalid name.', true).optional(),
    });
    assert.throws(() => parseJsonInput(s, { Alg: 'no' }, error), {
      kind: 'validation',
      message: "1 validation error detected: Value at 'alg' failed to satisfy constraint: Member must be ok",
    });
    assert.throws(() => parseJsonInput(s, { Name: 'a b' }, error), { kind: 'validation', message: 'Invalid name.' });
    assert.throws(() => parseJsonInput(s, { Alg: 'no', Name: 'a b c d' }, error), {
      message: /^1 validation error detected: Value at 'name' .* less than or equal to 4$/,
    });
    assert.deepEqual(parseJsonInput(s, { Alg: 'ok', Name: 'ab' }, error), { Alg: 'ok', Name: 'ab' });
  });
});

describe('formInput', () => {
  it('reads Query parameters as the model’s members', () => {
    const form = new URLSearchParams('Name=x&Count=7&Tags.member.1.Key=k&Tags.member.2.Value=v&Ids.member.1=a&Ids.member.2=b&Other=1');
    assert.deepEqual(formInput(members, form), { Name: 'x', Count: 7, Tags: [{ Key: 'k' }, { Value: 'v' }], Ids: ['a', 'b'] });
  });

  it('reads `Name=` as an empty list, and an integer member that is no 32-bit integer as malformed', () => {
    assert.deepEqual(formInput(members, new URLSearchParams('Ids=&Count=7')), { Ids: [], Count: 7 });
    for (const v of ['seven', '1.5', '1e400', '2147483648', '0x10', ''])
      assert.throws(
        () => formInput(members, new URLSearchParams({ Count: v })),
        (e: unknown) => e instanceof MalformedMember && e.parameter === 'Count' && e.value === v,
        v,
      );
    assert.equal(formInput(members, new URLSearchParams({ Count: '-2147483648' })).Count, -2147483648);
    assert.match((refused(formInput(members, new URLSearchParams('Ids=')), quoted) as { message: string }).message, /at 'ids' .* greater than or equal to 1$/);
  });
});
