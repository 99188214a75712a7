/** How schema failures become ECR's answers: which exception, and ECR's words for each constraint. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { blob, imageIds, maxResults, modelPattern, parseInput, registryId, repositoryName } from './input.js';
import { EcrError } from './protocol.js';

const schema = z
  .object({
    registryId: registryId.optional(),
    repositoryName,
    imageIds: imageIds.optional(),
    maxResults: maxResults(100).optional(),
    mode: z.enum(['A', 'B']).optional(),
    tags: z.array(z.object({ Key: z.string().min(1) }).strict()).optional(),
  })
  .strict();

function fails(body: unknown): EcrError {
  try {
    parseInput(schema, body);
  } catch (e) {
    assert.ok(e instanceof EcrError);
    return e;
  }
  return assert.fail('accepted');
}

describe('parseInput', () => {
  it('says what a missing, short, out-of-range or unlisted member breaks, all at once', () => {
    const e = fails({ repositoryName: 'a', maxResults: 101, mode: 'C', tags: [{ Key: 'ok' }, { Key: '' }] });
    assert.equal(e.type, 'ValidationException');
    assert.equal(
      e.message,
      '4 validation errors detected: ' +
        "Value 'a' at 'repositoryName' failed to satisfy constraint: Member must have length greater than or equal to 2; " +
        "Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100; " +
        "Value 'C' at 'mode' failed to satisfy constraint: Member must satisfy enum value set: [A, B]; " +
        "Value '' at 'tags.2.member.Key' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
    assert.equal(fails({}).message, "1 validation error detected: Value null at 'repositoryName' failed to satisfy constraint: Member must not be null");
    assert.match(fails({ repositoryName: 'ok/name', registryId: '1' }).message, /Member must satisfy regular expression pattern: \[0-9\]\{12\}$/);
  });

  it('treats null as absent, as the AWS JSON protocol does', () => {
    assert.deepEqual(parseInput(schema, { repositoryName: 'ok/name', maxResults: null }), { repositoryName: 'ok/name' });
  });

  it('leaves wrong types to SerializationException and ECR rules of its own to InvalidParameterException', () => {
    assert.equal(fails({ repositoryName: 'ok/name', maxResults: '5' }).type, 'SerializationException');
    assert.equal(fails({ repositoryName: 'ok/name', maxResults: 1.5 }).type, 'SerializationException');
    assert.equal(fails({ repositoryName: 'ok/name', extra: 1 }).type, 'SerializationException');
    const rule = fails({ repositoryName: 'Bad Name' });
    assert.equal(rule.type, 'InvalidParameterException');
    assert.match(rule.message, /^Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression/);
  });

  it('decodes a blob, bounded by its decoded bytes, refused in the words of a length', () => {
    const part = z.object({ layerPartBlob: blob(4) }).strict();
    assert.deepEqual(parseInput(part, { layerPartBlob: Buffer.alloc(4).toString('base64') }), { layerPartBlob: Buffer.alloc(4) });
    assert.throws(
      () => parseInput(part, { layerPartBlob: Buffer.alloc(5).toString('base64') }),
      (e: unknown) =>
        e instanceof EcrError &&
        e.type === 'ValidationException' &&
        /at 'layerPartBlob' failed to satisfy constraint: Member must have length less than or equal to 4$/.test(e.message),
    );
  });

  it("quotes a model pattern as the model writes it, a '/' unescaped", () => {
    const filter = z.object({ filter: z.string().regex(modelPattern('[a-z]+/[a-z]+')) }).strict();
    assert.throws(
      () => parseInput(filter, { filter: 'A/b' }),
      (e: unknown) => e instanceof EcrError && e.message.endsWith('Member must satisfy regular expression pattern: [a-z]+/[a-z]+'),
    );
  });
});
