/**
 * SigV4 verification against signatures made by @smithy/signature-v4 (the AWS JS SDK's signer),
 * sent through a wire-like conversion: the signer's path is sent as is, its query is serialised
 * with encodeURIComponent (not the signer's stricter escaping), and headers travel unchanged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { AuthError } from './errors.js';
import { canonicalQuery, canonicalUri } from './sigv4-canonical.js';
import { EMPTY_SHA256, parseAuthorization, sha256Hex, splitUrl, verifySigV4, type VerifySigV4Input } from './sigv4.js';

const AKID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const DATE = new Date('2026-11-22T15:40:34Z');

interface SignArgs {
  method?: string;
  path?: string;
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  body?: string;
  service?: string;
  region?: string;
  date?: Date;
  sessionToken?: string;
  applyChecksum?: boolean;
  unsignableHeaders?: Set<string>;
  presignExpires?: number;
}

function wireQuery(query: Record<string, string | string[] | null>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    for (const one of Array.isArray(v) ? v : [v ?? '']) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(one)}`);
  }
  return parts.join('&');
}

async function sign(a: SignArgs = {}): Promise<{ input: VerifySigV4Input; body: string }> {
  const body = a.body ?? '';
  const signer = new SignatureV4({
    service: a.service ?? 'ecr',
    region: a.region ?? 'us-east-1',
    credentials: { accessKeyId: AKID, secretAccessKey: SECRET, ...(a.sessionToken && { sessionToken: a.sessionToken }) },
    sha256: Sha256,
    applyChecksum: a.applyChecksum ?? false,
  });
  const req = new HttpRequest({
    method: a.method ?? 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 5000,
    path: a.path ?? '/',
    query: a.query ?? {},
    headers: { host: '127.0.0.1:5000', ...a.headers },
    ...(body !== '' && { body }),
  });
  const signingDate = a.date ?? DATE;
  const signed =
    a.presignExpires !== undefined
      ? await signer.presign(req, { signingDate, expiresIn: a.presignExpires })
      : await signer.sign(req, { signingDate, ...(a.unsignableHeaders && { unsignableHeaders: a.unsignableHeaders }) });
  return {
    body,
    input: {
      method: signed.method,
      path: signed.path,
      rawQuery: wireQuery(signed.query as Record<string, string | string[] | null>),
      headers: { ...signed.headers },
      bodySha256Hex: sha256Hex(body),
      secretAccessKey: SECRET,
      now: new Date(signingDate.getTime() + 1000),
    },
  };
}

const ecrRequest = (extra: SignArgs = {}) =>
  sign({
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.CreateRepository',
      'user-agent': 'aws-sdk-js/3 test',
    },
    body: '{"repositoryName":"team/web"}',
    ...extra,
  });

function rejects(input: VerifySigV4Input, reason: AuthError['reason'], message?: RegExp): AuthError {
  let caught: unknown;
  try {
    verifySigV4(input);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof AuthError, `expected AuthError ${reason}, got ${String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

describe('verifySigV4 accepts what the AWS SDK signer produced', () => {
  it('an ECR JSON 1.1 request, and reports who signed it', async () => {
    const { input } = await ecrRequest();
    const info = verifySigV4({ ...input, expectedService: 'ecr' });
    assert.equal(info.accessKeyId, AKID);
    assert.equal(info.region, 'us-east-1');
    assert.equal(info.service, 'ecr');
    assert.equal(info.amzDate, '20261122T154034Z');
    assert.equal(info.date.getTime(), DATE.getTime());
    assert.deepEqual(info.signedHeaders, ['content-type', 'host', 'x-amz-date', 'x-amz-target']);
    assert.equal(info.securityToken, undefined);
    assert.equal(info.presigned, false);
  });

  it('with a signed X-Amz-Content-Sha256 header', async () => {
    const { input } = await ecrRequest({ applyChecksum: true });
    assert.ok(verifySigV4(input).signedHeaders.includes('x-amz-content-sha256'));
  });

  it('an IAM Query request with a form body', async () => {
    const { input } = await sign({
      service: 'iam',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: 'Action=CreateUser&Version=2010-05-08&UserName=alice%2Bbob&Path=%2Fteam%2F',
    });
    assert.equal(verifySigV4({ ...input, expectedService: ['iam', 'sts'] }).service, 'iam');
  });

  it('a session token, which it reports', async () => {
    const { input } = await ecrRequest({ sessionToken: 'FwoGZXIvYXdzE/token+with=odd/chars' });
    const info = verifySigV4(input);
    assert.equal(info.securityToken, 'FwoGZXIvYXdzE/token+with=odd/chars');
    assert.ok(info.signedHeaders.includes('x-amz-security-token'));
  });

  it('header values with odd whitespace, and header names in any case', async () => {
    const { input } = await ecrRequest({ headers: { 'X-Amz-Target': 'A.B', 'X-Custom': '  a   b \t c  ', 'x-empty': '' } });
    assert.deepEqual(verifySigV4(input).signedHeaders, ['host', 'x-amz-date', 'x-amz-target', 'x-custom', 'x-empty']);
  });

  it('a path with special characters, double-encoded for the canonical URI', async () => {
    const path = "/v2/a%20b/c%2Fd/%E2%9C%93/x!y(z)*'~_.-/";
    const { input } = await sign({ method: 'GET', path });
    assert.equal(verifySigV4(input).accessKeyId, AKID);
    assert.equal(canonicalUri(path), '/v2/a%2520b/c%252Fd/%25E2%259C%2593/x%21y%28z%29%2A%27~_.-/');
  });

  it('a path with dot segments and repeated slashes, normalised as the signer did', async () => {
    const { input } = await sign({ method: 'GET', path: '/a/./b/../c//d' });
    assert.equal(verifySigV4(input).accessKeyId, AKID);
    assert.equal(canonicalUri('/a/./b/../c//d'), '/a/c/d');
    assert.equal(canonicalUri(''), '/');
  });

  it('query parameters: unsorted, repeated, empty, encoded, unicode', async () => {
    const query = { b: ['2', '1', 'x y'], a: '', 'k e+y': 'v/a=l&ue', ünï: '✓', Z: "!'()*" };
    const { input } = await sign({ method: 'GET', path: '/v2/_catalog', query });
    assert.equal(verifySigV4(input).accessKeyId, AKID);
    assert.equal(canonicalQuery('b=2&a&Z=1&b=1'), 'Z=1&a=&b=1&b=2');
  });

  it('a presigned (query-string) request', async () => {
    const { input } = await sign({ method: 'GET', path: '/v2/', query: { n: '10' }, presignExpires: 300 });
    const info = verifySigV4({ ...input, bodySha256Hex: EMPTY_SHA256 });
    assert.equal(info.presigned, true);
    assert.equal(info.expiresSeconds, 300);
    assert.deepEqual(info.signedHeaders, ['host']);
  });

  it('an HTTP/2 request signed over :authority instead of Host, as the SDK signs on h2', async () => {
    const { input } = await ecrRequest({
      headers: { ':authority': '127.0.0.1:5000', 'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.CreateRepository' },
      unsignableHeaders: new Set(['host']),
    });
    assert.deepEqual(verifySigV4(input).signedHeaders, [':authority', 'x-amz-date', 'x-amz-target']);
    // The pseudo-header is covered like any signed header.
    rejects({ ...input, headers: { ...input.headers, ':authority': 'evil.example:5000' } }, 'SignatureMismatch');
    // Other pseudo-headers are not names a signature may list.
    const withPath = await ecrRequest({ headers: { ':path': '/' } });
    rejects(withPath.input, 'IncompleteSignature');
  });

  it('a known answer from the AWS SigV4 test suite (get-vanilla)', () => {
    const info = verifySigV4({
      method: 'GET',
      path: '/',
      rawQuery: '',
      headers: {
        host: 'example.amazonaws.com',
        'x-amz-date': '20150830T123600Z',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
      },
      bodySha256Hex: EMPTY_SHA256,
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      now: new Date('2015-08-30T12:36:00Z'),
    });
    assert.equal(info.accessKeyId, 'AKIDEXAMPLE');
  });
});

describe('verifySigV4 rejects', () => {
  it('a tampered body, with and without a signed payload hash', async () => {
    for (const applyChecksum of [false, true]) {
      const { input } = await ecrRequest({ applyChecksum });
      const err = rejects({ ...input, bodySha256Hex: sha256Hex('{"repositoryName":"team/wet"}') }, 'SignatureMismatch');
      assert.equal(err.code, 'InvalidSignatureException');
      assert.equal(err.status, 400);
      assert.deepEqual(err.query, { code: 'SignatureDoesNotMatch', status: 403 });
    }
  });

  it('a tampered signed header, but not an unsigned one', async () => {
    const { input } = await ecrRequest();
    rejects({ ...input, headers: { ...input.headers, 'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.DeleteRepository' } }, 'SignatureMismatch');
    rejects({ ...input, headers: { ...input.headers, host: '127.0.0.1:5001' } }, 'SignatureMismatch');
    assert.equal(verifySigV4({ ...input, headers: { ...input.headers, 'user-agent': 'other' } }).accessKeyId, AKID);
  });

  it('a tampered date', async () => {
    const { input } = await ecrRequest();
    rejects({ ...input, headers: { ...input.headers, 'x-amz-date': '20261122T154035Z' } }, 'SignatureMismatch');
    rejects({ ...input, headers: { ...input.headers, 'x-amz-date': '20261123T154034Z' } }, 'InvalidScope', /Date in Credential scope/);
  });

  it('a tampered method, path or query', async () => {
    const { input } = await sign({ method: 'GET', path: '/v2/a/tags/list', query: { n: '1' } });
    rejects({ ...input, method: 'DELETE' }, 'SignatureMismatch');
    rejects({ ...input, path: '/v2/b/tags/list' }, 'SignatureMismatch');
    rejects({ ...input, rawQuery: 'n=2' }, 'SignatureMismatch');
    rejects({ ...input, rawQuery: 'n=1&last=x' }, 'SignatureMismatch');
  });

  it('the wrong secret, or a malformed signature', async () => {
    const { input } = await ecrRequest();
    rejects({ ...input, secretAccessKey: SECRET.replace('w', 'W') }, 'SignatureMismatch');
    const auth = String(input.headers.authorization);
    rejects({ ...input, headers: { ...input.headers, authorization: auth.replace(/Signature=\w+/, 'Signature=abc') } }, 'SignatureMismatch');
  });

  it('a request signed more than 15 minutes before or after now', async () => {
    const { input } = await ecrRequest();
    const later = rejects(
      { ...input, now: new Date(DATE.getTime() + 16 * 60_000) },
      'SignatureExpired',
      /^Signature expired: 20261122T154034Z is now earlier than/,
    );
    assert.equal(later.code, 'InvalidSignatureException');
    assert.equal(later.query.code, 'SignatureDoesNotMatch');
    rejects({ ...input, now: new Date(DATE.getTime() - 16 * 60_000) }, 'SignatureExpired', /^Signature not yet current/);
    assert.equal(verifySigV4({ ...input, now: new Date(DATE.getTime() + 14 * 60_000) }).accessKeyId, AKID);
    assert.equal(verifySigV4({ ...input, now: new Date(DATE.getTime() - 14 * 60_000) }).accessKeyId, AKID);
    rejects({ ...input, now: new Date(DATE.getTime() + 61_000), maxSkewSeconds: 60 }, 'SignatureExpired');
  });

  it('a presigned request after its expiry, or with its query changed', async () => {
    const { input } = await sign({ method: 'GET', path: '/v2/', presignExpires: 300 });
    rejects({ ...input, now: new Date(DATE.getTime() + 301_000) }, 'RequestExpired');
    assert.equal(verifySigV4({ ...input, now: new Date(DATE.getTime() + 299_000) }).presigned, true);
    rejects({ ...input, rawQuery: input.rawQuery.replace('X-Amz-Expires=300', 'X-Amz-Expires=900') }, 'SignatureMismatch');
  });

  it('a credential scoped to another service or region', async () => {
    const { input } = await ecrRequest();
    const err = rejects({ ...input, expectedService: 'iam' }, 'InvalidScope', /correct service: 'iam'/);
    assert.equal(err.code, 'InvalidSignatureException');
    rejects({ ...input, expectedService: ['iam', 'sts'] }, 'InvalidScope');
    rejects({ ...input, expectedRegion: 'eu-west-1' }, 'InvalidScope', /valid region/);
    assert.equal(verifySigV4({ ...input, expectedRegion: ['eu-west-1', 'us-east-1'] }).region, 'us-east-1');
  });

  it('requests whose host, x-amz-date or another x-amz-* header is not signed', async () => {
    const noHost = await ecrRequest({ unsignableHeaders: new Set(['host']) });
    rejects(noHost.input, 'SignatureMismatch', /'Host' or ':authority' must be a 'SignedHeader'/);
    const noDate = await ecrRequest({ unsignableHeaders: new Set(['x-amz-date']) });
    rejects(noDate.input, 'SignatureMismatch', /'X-Amz-Date' must be a 'SignedHeader'/);
    const noTarget = await ecrRequest({ unsignableHeaders: new Set(['x-amz-target']) });
    const err = rejects(noTarget.input, 'SignatureMismatch', /^'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization\.$/);
    assert.equal(err.code, 'InvalidSignatureException');
    assert.equal(err.query.code, 'SignatureDoesNotMatch');
    const noToken = await ecrRequest({ sessionToken: 'sess', unsignableHeaders: new Set(['x-amz-security-token']) });
    rejects(noToken.input, 'SignatureMismatch', /'X-Amz-Security-Token' must be a 'SignedHeader'/);
    const noHash = await ecrRequest({ headers: { 'x-amz-content-sha256': EMPTY_SHA256 }, unsignableHeaders: new Set(['x-amz-content-sha256']) });
    rejects(noHash.input, 'SignatureMismatch', /'X-Amz-Content-Sha256' must be a 'SignedHeader'/);
    // A header added after signing is refused by name, not as a bare mismatch.
    const added = await ecrRequest();
    rejects({ ...added.input, headers: { ...added.input.headers, 'X-Amz-Extra': '1' } }, 'SignatureMismatch', /'X-Amz-Extra' must be a 'SignedHeader'/);
  });

  it('a hostile SignedHeaders list reading each header a few times (under 20 here), not once per signed name (3000 here)', async () => {
    const { input } = await ecrRequest();
    const names = Array.from({ length: 3000 }, (_, i) => `h${i}`);
    const headers: Record<string, string> = { ...(input.headers as Record<string, string>) };
    for (const n of names.slice(0, 2000)) headers[n] = 'v';
    const signed = [
      ...names,
      ...String(input.headers.authorization)
        .match(/SignedHeaders=([^,]+)/)![1]!
        .split(';'),
    ].sort();
    headers.authorization = String(input.headers.authorization).replace(/SignedHeaders=[^,]+/, `SignedHeaders=${signed.join(';')}`);
    let reads = 0;
    const counted = new Proxy(headers, {
      get(target, key) {
        reads++;
        return Reflect.get(target, key);
      },
      getOwnPropertyDescriptor(target, key) {
        reads++;
        return Reflect.getOwnPropertyDescriptor(target, key);
      },
    });
    rejects({ ...input, headers: counted }, 'SignatureMismatch');
    assert.ok(reads < 20 * Object.keys(headers).length, `${reads} header reads for ${Object.keys(headers).length} headers`);
  });

  it('UNSIGNED-PAYLOAD unless allowed', async () => {
    const { input } = await ecrRequest({ headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    rejects(input, 'IncompleteSignature', /UNSIGNED-PAYLOAD/);
    assert.equal(verifySigV4({ ...input, allowUnsignedPayload: true, bodySha256Hex: sha256Hex('anything') }).accessKeyId, AKID);
  });
});

describe('parseAuthorization', () => {
  const headers = { host: 'h', 'x-amz-date': '20261122T154034Z' };
  const parseErr = (h: Record<string, string>, rawQuery = ''): AuthError => {
    try {
      parseAuthorization({ headers: h, rawQuery });
    } catch (e) {
      assert.ok(e instanceof AuthError);
      return e;
    }
    assert.fail('expected an AuthError');
  };

  it('reads the header form without requiring a secret', () => {
    const info = parseAuthorization({
      headers: {
        ...headers,
        Authorization: 'AWS4-HMAC-SHA256 Credential=AKIA1/20261122/eu-west-1/sts/aws4_request,SignedHeaders=host;x-amz-date,Signature=00',
      },
    });
    assert.deepEqual([info.accessKeyId, info.scopeDate, info.region, info.service], ['AKIA1', '20261122', 'eu-west-1', 'sts']);
    assert.deepEqual(info.signedHeaders, ['host', 'x-amz-date']);
  });

  it('answers a missing Authorization with MissingAuthenticationToken (403)', () => {
    const err = parseErr(headers);
    assert.equal(err.code, 'MissingAuthenticationTokenException');
    assert.equal(err.status, 403);
    assert.equal(err.query.code, 'MissingAuthenticationToken');
  });

  it('answers malformed headers with IncompleteSignature', () => {
    const missing = parseErr({ ...headers, authorization: 'AWS4-HMAC-SHA256 Credential=AKIA1/20261122/us-east-1/ecr/aws4_request' });
    assert.equal(missing.code, 'IncompleteSignatureException');
    assert.match(missing.message, /requires 'Signature' parameter.*requires 'SignedHeaders' parameter/);
    assert.equal(parseErr({ ...headers, authorization: 'Basic QVdTOnB3' }).reason, 'IncompleteSignature');
    const sig = 'SignedHeaders=host;x-amz-date, Signature=00';
    assert.equal(parseErr({ ...headers, authorization: `AWS4-HMAC-SHA256 Credential=AKIA1/20261122/ecr/aws4_request, ${sig}` }).reason, 'IncompleteSignature');
    assert.equal(parseErr({ ...headers, authorization: `AWS4-HMAC-SHA256 Credential=AKIA1/20261122/r/ecr/aws5_request, ${sig}` }).reason, 'InvalidScope');
    const upper = `AWS4-HMAC-SHA256 Credential=AKIA1/20261122/r/ecr/aws4_request, SignedHeaders=Host, Signature=00`;
    assert.equal(parseErr({ ...headers, authorization: upper }).reason, 'IncompleteSignature');
    const cred = 'AWS4-HMAC-SHA256 Credential=AKIA1/20261122/r/ecr/aws4_request, ' + sig;
    assert.match(parseErr({ host: 'h', authorization: cred }).message, /'X-Amz-Date' or a 'Date' header/);
    assert.match(parseErr({ host: 'h', 'x-amz-date': '2026-11-22T15:40:34Z', authorization: cred }).message, /basic format/);
    assert.equal(parseErr({ ...headers, authorization: cred }, 'X-Amz-Algorithm=AWS4-HMAC-SHA256').reason, 'IncompleteSignature');
  });

  it('keeps the signature, a bare token and any length past 500 out of what it echoes', () => {
    const auth = `AWS4-HMAC-SHA256 Credential=AKIA1/20261122/r/ecr/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'ab'.repeat(32)}`;
    const err = parseErr({ host: 'h', authorization: auth });
    assert.match(
      err.message,
      /'X-Amz-Date' or a 'Date' header\. Authorization=AWS4-HMAC-SHA256 Credential=AKIA1\/20261122\/r\/ecr\/aws4_request, SignedHeaders=host;x-amz-date, Signature=<redacted>$/,
    );
    assert.ok(!err.message.includes('abab'));
    const long = parseErr({ host: 'h', authorization: `AWS4-HMAC-SHA256 Credential=AKIA1/20261122/r/ecr/aws4_request, X=${'x'.repeat(5000)}` });
    assert.ok(long.message.length < 1000, `${long.message.length} characters`);
    const bare = parseErr({ ...headers, authorization: 'eyJhbGciOiJIUzI1NiJ9.secret-bearer-token' });
    assert.equal(bare.message, `Unsupported AWS 'algorithm': ''. Expected AWS4-HMAC-SHA256.`);
  });

  it('refuses an Authorization sent twice, a component given twice, and a component without a value', () => {
    const good = 'AWS4-HMAC-SHA256 Credential=AKIA1/20261122/r/ecr/aws4_request, SignedHeaders=host;x-amz-date, Signature=00';
    const twice = parseErr({ ...headers, authorization: [good, good] } as unknown as Record<string, string>);
    assert.deepEqual([twice.reason, twice.message], ['IncompleteSignature', 'Only one Authorization header is allowed.']);
    const twoKeys = parseErr({ ...headers, authorization: `${good}, Credential=AKIA2/20261122/r/ecr/aws4_request` });
    assert.deepEqual([twoKeys.reason, twoKeys.message], ['IncompleteSignature', "Authorization header has more than one 'Credential' parameter."]);
    const bare = parseErr({ ...headers, authorization: `${good}, Signature` });
    assert.equal(bare.reason, 'IncompleteSignature');
    assert.equal(bare.message, "'Signature' not a valid key=value pair (missing equal-sign) in Authorization header.");
    // Blank components (a trailing comma) are nothing.
    assert.equal(parseAuthorization({ headers: { ...headers, authorization: `${good},` } }).accessKeyId, 'AKIA1');
  });

  it('refuses a presigned request with one of its X-Amz-* parameters twice', () => {
    const q =
      'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA1%2F20261122%2Fr%2Fecr%2Faws4_request&X-Amz-Date=20261122T154034Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00';
    assert.equal(parseAuthorization({ headers: { host: 'h' }, rawQuery: q }).accessKeyId, 'AKIA1');
    for (const extra of ['X-Amz-Credential=AKIA2%2F20261122%2Fr%2Fecr%2Faws4_request', 'X-Amz-Security-Token=a&X-Amz-Security-Token=b', 'X-Amz-Signature=01']) {
      const err = parseErr({ host: 'h' }, `${q}&${extra}`);
      assert.equal(err.reason, 'IncompleteSignature');
      assert.match(err.message, /^Only one 'X-Amz-(Credential|Security-Token|Signature)' query parameter is allowed\.$/);
    }
  });

  it('splits a request target into path and query', () => {
    assert.deepEqual(splitUrl('/a/b?x=1&y'), { path: '/a/b', rawQuery: 'x=1&y' });
    assert.deepEqual(splitUrl('/'), { path: '/', rawQuery: '' });
  });
});
