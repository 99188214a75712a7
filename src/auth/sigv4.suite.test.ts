/**
 * AWS's SigV4 test suite (testing/sigv4-suite.ts) through verifySigV4: each correctly signed
 * request verifies, and any one change to what the signature covers (method, path, query, a
 * signed header, the body, the date, the scope, the signature, the secret) is refused. The
 * requests are read as the suite writes them: repeated headers are kept apart, as on the wire
 * (test/api/sigv4-suite-wire.test.ts sends them over HTTP).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthError } from './errors.js';
import { HEADER_CASES, parseSuiteRequest, QUERY_CASES, SUITE, type ParsedSuiteRequest, type SuiteCase } from './testing/sigv4-suite.js';
import { sha256Hex, verifySigV4, type SignedRequestInfo, type VerifySigV4Input } from './sigv4.js';

function inputOf(c: SuiteCase, p: ParsedSuiteRequest = parseSuiteRequest(c.request)): VerifySigV4Input {
  return {
    method: p.method,
    path: p.path,
    rawQuery: p.rawQuery,
    headers: p.headers,
    bodySha256Hex: sha256Hex(p.body),
    secretAccessKey: SUITE.secretAccessKey,
    now: SUITE.now,
    uriEscapePath: !c.unnormalized,
    allowUnsignedPayload: p.headers['x-amz-content-sha256']?.[0] === 'UNSIGNED-PAYLOAD',
  };
}

function refused(input: VerifySigV4Input, what: string): void {
  assert.throws(
    () => verifySigV4(input),
    (e: unknown) => e instanceof AuthError,
    what,
  );
}

/** Header values with one byte changed; x-amz-date moves by one second, so the scope still matches. */
function changedHeader(name: string, value: string): string {
  if (name === 'x-amz-date') return value.replace(/00Z$/, '01Z');
  if (name === 'content-length') return String(Number(value) + 1);
  return value.slice(0, -1) + (value.endsWith('x') ? 'y' : 'x');
}

const withHeader = (input: VerifySigV4Input, name: string, value: string): VerifySigV4Input => ({
  ...input,
  headers: { ...input.headers, [name]: value },
});

function checkCase(c: SuiteCase, presigned: boolean): void {
  const input = inputOf(c);
  const info: SignedRequestInfo = verifySigV4(input);
  assert.equal(info.accessKeyId, SUITE.accessKeyId);
  assert.equal(info.presigned, presigned);
  // Headers outside the signature do not matter (the control for every refusal below).
  assert.equal(verifySigV4(withHeader(input, 'x-not-signed', '1')).accessKeyId, SUITE.accessKeyId);

  refused({ ...input, method: 'PUT' }, 'method');
  refused({ ...input, path: `${input.path}x` }, 'path');
  refused({ ...input, rawQuery: input.rawQuery === '' ? 'x=1' : `${input.rawQuery}&x=1` }, 'query');
  for (const name of info.signedHeaders) {
    const value = input.headers[name];
    const one = Array.isArray(value) ? value.join(',') : (value ?? '');
    refused(withHeader(input, name, changedHeader(name, one)), `signed header ${name}`);
  }
  if (input.allowUnsignedPayload) {
    // UNSIGNED-PAYLOAD: the body is, by its very meaning, not covered.
    assert.equal(verifySigV4({ ...input, bodySha256Hex: sha256Hex('other') }).accessKeyId, SUITE.accessKeyId);
  } else {
    refused({ ...input, bodySha256Hex: sha256Hex(`${parseSuiteRequest(c.request).body}x`) }, 'body');
  }

  // The date, scope and signature travel in the Authorization header or in the query.
  const rewrite = (from: RegExp, to: string): VerifySigV4Input =>
    presigned
      ? { ...input, rawQuery: input.rawQuery.replace(from, to) }
      : withHeader(input, 'authorization', (input.headers.authorization as string[])[0]!.replace(from, to));
  if (presigned) refused({ ...input, rawQuery: input.rawQuery.replace('T123600Z', 'T123601Z') }, 'date');
  refused(rewrite(/us-east-1/, 'us-east-2'), 'scope region');
  refused(rewrite(/(%2F|\/)service(%2F|\/)/, '$1servicf$2'), 'scope service');
  refused(rewrite(/20150830(%2F|\/)/, '20150831$1'), 'scope date');
  refused(rewrite(/aws4_request/, 'aws4_requesu'), 'scope terminator');
  refused(rewrite(/Signature=([0-9a-f]{63})([0-9a-f])/, `Signature=$1${info.signature.endsWith('0') ? '1' : '0'}`), 'signature');
  refused({ ...input, secretAccessKey: SUITE.secretAccessKey.replace('w', 'W') }, 'secret');
}

describe('the AWS SigV4 test suite, signed in the Authorization header', () => {
  for (const c of HEADER_CASES) it(c.name, () => checkCase(c, false));
});

describe('the AWS SigV4 test suite, presigned (query-string)', () => {
  for (const c of QUERY_CASES) it(c.name, () => checkCase(c, true));

  it('refuses the X-Amz-Date header the suite sends beside a presigned request, unsigned, by name', () => {
    const c = QUERY_CASES[0]!;
    const input = inputOf(c);
    assert.throws(
      () => verifySigV4(withHeader(input, 'x-amz-date', '20150830T123600Z')),
      (e: unknown) => e instanceof AuthError && e.message === "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
    );
  });
});
