/**
 * Signed requests from AWS's SigV4 test suite (aws-sig-v4-test-suite), as awslabs/aws-c-auth
 * keeps it: `tests/aws-signing-test-suite/v4/<name>/header-signed-request.txt` (Authorization
 * header) and `.../query-signed-request.txt` (presigned), each at the commit given. Every case
 * uses the suite's context: the credentials and scope in SUITE, signed at 2015-08-30T12:36:00Z.
 * The text is the file's, with `\n` line ends, and these changes, all to unsigned parts:
 * - The query cases' files also carry an `X-Amz-Date` header that the presigned signature does
 *   not cover; it is left out, since Berth refuses any x-amz-* header a signature leaves out.
 * - post-x-www-form-urlencoded (query): the file leaves out the `x-amz-content-sha256` header
 *   that its own query-canonical-request.txt (same commit) shows was signed; it is put back.
 * Left out: post-sts-header-after (its stored file sends an unsigned x-amz-content-sha256) and
 * get-vanilla-with-session-token (query), whose stored files disagree with each other.
 */
import { splitUrl } from '../sigv4.js';

export const SUITE = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
  service: 'service',
  now: new Date('2015-08-30T12:36:00Z'),
};

export interface SuiteCase {
  name: string;
  /** The awslabs/aws-c-auth commit the file was read at. */
  commit: string;
  /** The signed request: request line, headers, an empty line, the body. */
  request: string;
  /** Signed S3 style (`normalize: false` in the case's context): the path as is. */
  unnormalized?: true;
  /** Not sendable over HTTP/1.1 as written: a raw space or UTF-8 in the request line, or a folded header. */
  wire?: false;
}

export const HEADER_CASES: readonly SuiteCase[] = [
  {
    name: 'get-header-key-duplicate',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\nMy-Header1:value1\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'get-header-value-multiline',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\n  value2\n     value3\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790\nX-Amz-Date:20150830T123600Z\n\n',
    wire: false,
  },
  {
    name: 'get-header-value-order',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value4\nMy-Header1:value1\nMy-Header1:value3\nMy-Header1:value2\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'get-header-value-trim',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: "a   b   c"\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'get-relative-normalized',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET /example/.. HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'get-relative-relative-normalized',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET /example1/example2/../.. HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'get-relative-relative-unnormalized',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET /example1/example2/../.. HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=dc33e0856fd4baca4d7aa2146c38958283844764f38c74252a333df5e613003b\nX-Amz-Date:20150830T123600Z\n\n',
    unnormalized: true,
  },
  {
    name: 'get-relative-unnormalized',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET /example/.. HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=eca7ead57bb5aa5c8e28007acd4ff04e1ff9a0ff3b237ec1554a184887ff9282\nX-Amz-Date:20150830T123600Z\n\n',
    unnormalized: true,
  },
  {
    name: 'get-slash-dot-slash-normalized',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET /./ HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'get-slash-dot-slash-unnormalized',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET /./ HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=68714168e6557f8f2de0ef956fc24dc2593a4bd2961f8df51898d8a134695145\nX-Amz-Date:20150830T123600Z\n\n',
    unnormalized: true,
  },
  {
    name: 'get-slash-normalized',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET // HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'get-slash-pointless-dot-normalized',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET /./example HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'get-slash-pointless-dot-unnormalized',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET /./example HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=beb03f223f7deae4146464f06e29eebbee9c8afbe15c290cf07aa8b119e14cff\nX-Amz-Date:20150830T123600Z\n\n',
    unnormalized: true,
  },
  {
    name: 'get-slash-unnormalized',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET // HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=c88bcd3d312d75078c0cd961d6deae3f4c754924b01669efcfcb439fd5e5b76e\nX-Amz-Date:20150830T123600Z\n\n',
    unnormalized: true,
  },
  {
    name: 'get-slashes-normalized',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET //example// HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'get-slashes-unnormalized',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET //example// HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5\nX-Amz-Date:20150830T123600Z\n\n',
    unnormalized: true,
  },
  {
    name: 'get-space-normalized',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET /example space/ HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741\nX-Amz-Date:20150830T123600Z\n\n',
    wire: false,
  },
  {
    name: 'get-unreserved',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'get-utf8',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET /ሴ HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85\nX-Amz-Date:20150830T123600Z\n\n',
    wire: false,
  },
  {
    name: 'get-vanilla-empty-query-key',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'get-vanilla-query',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET / HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'get-vanilla-query-order-encoded',
    commit: '914018699e36e644949332fadd8bd4eaaaeedd6d',
    request:
      'GET /?Param-3=Value3&Param=Value2&%E1%88%B4=Value1 HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'get-vanilla-query-order-key-case',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET /?Param2=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'get-vanilla-query-unreserved',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'get-vanilla-utf8-query',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET /?ሴ=bar HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04\nX-Amz-Date:20150830T123600Z\n\n',
    wire: false,
  },
  {
    name: 'get-vanilla-with-session-token',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'GET / HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8\nX-Amz-Date:20150830T123600Z\nX-Amz-Security-Token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267\n\n',
  },
  {
    name: 'post-header-key-sort',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'post-header-value-case',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:VALUE1\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'post-sts-header-before',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'POST / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Security-Token:AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'post-unsigned-payload',
    commit: '1de544597e9739f689e8ad2c055a86656856b3eb',
    request:
      'POST / HTTP/1.1\nHost:example.amazonaws.com\nContent-Length:13\nX-Amz-Date:20150830T123600Z\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;host;x-amz-content-sha256;x-amz-date, Signature=9fb60e8938d2178a7d63b49e055d1e65d8f6226f38846e8e0293bf43ce29050c\n\nParam1=value1\n',
  },
  {
    name: 'post-vanilla',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'POST / HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'post-vanilla-query',
    commit: '4ec99f28fa66f8a308609dfc6020936c24edaaf2',
    request:
      'POST /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11\nX-Amz-Date:20150830T123600Z\n\n',
  },
  {
    name: 'post-x-www-form-urlencoded',
    commit: '71a25bdee47398379c389e60bfdd74fc031dc20a',
    request:
      'POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\nHost:example.amazonaws.com\nContent-Length:13\nx-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b\nX-Amz-Date:20150830T123600Z\n\nParam1=value1',
  },
  {
    name: 'post-x-www-form-urlencoded-parameters',
    commit: '71a25bdee47398379c389e60bfdd74fc031dc20a',
    request:
      'POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded; charset=utf-8\nHost:example.amazonaws.com\nContent-Length:13\nx-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=328d1b9eaadca9f5818ef05e8392801e091653bafec24fcab71e7344e7f51422\nX-Amz-Date:20150830T123600Z\n\nParam1=value1',
  },
];

export const QUERY_CASES: readonly SuiteCase[] = [
  {
    name: 'get-header-key-duplicate',
    commit: 'b081db5425ea8fec2f29f942ef010fcf75442d01',
    request:
      'GET /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host%3Bmy-header1&X-Amz-Expires=3600&X-Amz-Signature=3349ee0b81b4b589da0ff28a395c3591e04de515651dd74f298fa992d1507a97 HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\nMy-Header1:value1\n\n',
  },
  {
    name: 'get-header-value-order',
    commit: 'b081db5425ea8fec2f29f942ef010fcf75442d01',
    request:
      'GET /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host%3Bmy-header1&X-Amz-Expires=3600&X-Amz-Signature=313720e71ca6202fdcfa9b20f88de01a4eb0638a83c833b1c184359a4eda864e HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value4\nMy-Header1:value1\nMy-Header1:value3\nMy-Header1:value2\n\n',
  },
  {
    name: 'get-header-value-trim',
    commit: 'b081db5425ea8fec2f29f942ef010fcf75442d01',
    request:
      'GET /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host%3Bmy-header1%3Bmy-header2&X-Amz-Expires=3600&X-Amz-Signature=e7bb0fd515e125e1aec2ecc4c0c17484fb06f6846b927c35e46005dd3df3acd4 HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: "a   b   c"\n\n',
  },
  {
    name: 'get-relative-relative-normalized',
    commit: 'b081db5425ea8fec2f29f942ef010fcf75442d01',
    request:
      'GET /example1/example2/../..?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d HTTP/1.1\nHost:example.amazonaws.com\n\n',
  },
  {
    name: 'get-slash-pointless-dot-normalized',
    commit: 'b081db5425ea8fec2f29f942ef010fcf75442d01',
    request:
      'GET /./example?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=35034b1a0bdd969f346975386daf8aedfd4976573b8348cf4f67eaa41c5857de HTTP/1.1\nHost:example.amazonaws.com\n\n',
  },
  {
    name: 'get-unreserved',
    commit: 'b081db5425ea8fec2f29f942ef010fcf75442d01',
    request:
      'GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=95968482db1b9e0fadef6efc1bd24689f77c77d9ef56919c96a28cc92e0d6005 HTTP/1.1\nHost:example.amazonaws.com\n\n',
  },
  {
    name: 'get-utf8',
    commit: 'b081db5425ea8fec2f29f942ef010fcf75442d01',
    request:
      'GET /ሴ?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=10eae3f14a260bd3911cc6d008d3c576d143b05b62f09782a7a4b37f52178e44 HTTP/1.1\nHost:example.amazonaws.com\n\n',
    wire: false,
  },
  {
    name: 'get-vanilla-empty-query-key',
    commit: 'b081db5425ea8fec2f29f942ef010fcf75442d01',
    request:
      'GET /?Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=49096700cbbaa5753443850f40df10f904fc2fdb544dc9512203cc77c471a9de HTTP/1.1\nHost:example.amazonaws.com\n\n',
  },
  {
    name: 'get-vanilla-query-order-key-case',
    commit: 'b081db5425ea8fec2f29f942ef010fcf75442d01',
    request:
      'GET /?Param2=value2&Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5 HTTP/1.1\nHost:example.amazonaws.com\n\n',
  },
  {
    name: 'get-vanilla-query-unreserved',
    commit: 'b081db5425ea8fec2f29f942ef010fcf75442d01',
    request:
      'GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=8e76a88a7433637b12778d5592799b29ad21ecd6cf6325051c21d86f0acda2bf HTTP/1.1\nHost:example.amazonaws.com\n\n',
  },
  {
    name: 'post-x-www-form-urlencoded',
    commit: '71a25bdee47398379c389e60bfdd74fc031dc20a',
    request:
      'POST /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bx-amz-content-sha256&X-Amz-Expires=3600&X-Amz-Signature=c2348f57d08c84939944d6c878b3f7be56316f8e7fd6817e81eded279a362d69 HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\nHost:example.amazonaws.com\nContent-Length:13\nx-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\n\nParam1=value1',
  },
];

export interface ParsedSuiteRequest {
  method: string;
  path: string;
  rawQuery: string;
  headers: Record<string, string[]>;
  body: string;
}

/** The request line, the headers (a folded line continues the value before it), the body. */
export function parseSuiteRequest(text: string): ParsedSuiteRequest {
  const end = text.indexOf('\n\n');
  const [line = '', ...lines] = text.slice(0, end).split('\n');
  const method = line.slice(0, line.indexOf(' '));
  const target = line.slice(method.length + 1, line.lastIndexOf(' '));
  const headers: Record<string, string[]> = {};
  let last: string[] | undefined;
  for (const l of lines) {
    // The suite's canonical form of an obsolete folded line is one more value (get-header-value-multiline).
    if (/^[ \t]/.test(l) && last) last.push(l.trim());
    else {
      const colon = l.indexOf(':');
      last = headers[l.slice(0, colon).toLowerCase()] ??= [];
      last.push(l.slice(colon + 1));
    }
  }
  return { method, ...splitUrl(target), headers, body: text.slice(end + 2) };
}
