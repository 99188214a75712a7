/**
 * A JSON- or Query-protocol POST signed by the SDK's own signer (@smithy/signature-v4), for calls
 * whose body an SDK command would not send as is: a malformed member, a header left unsigned, a
 * request changed after it was signed.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { request } from 'node:http';
import type { Credentials } from '../../e2e/helpers/ecr-client.js';

export const ECR_TARGET = 'AmazonEC2ContainerRegistry_V20150921.';

export interface SignedCall {
  target: string;
  body: Record<string, unknown>;
  service?: string;
  region?: string;
  /** Headers sent but left out of the signature. */
  unsigned?: string[];
  /** More headers to sign and send. */
  headers?: Record<string, string>;
  sessionToken?: string;
  signingDate?: Date;
  /** Presigned (query-string authentication) for this many seconds, X-Amz-Target kept a header. */
  presignExpires?: number;
}

export interface SignedAnswer {
  status: number;
  json: { __type?: string; message?: string } & Record<string, unknown>;
}

/** What goes on the wire: a header given as a list is sent as that many header lines. */
export interface WireRequest {
  /** The request target: `/`, or `/?<query>` when presigned. */
  path: string;
  headers: Record<string, string | string[]>;
  body: string;
}

export async function signedFetch(
  berth: { url: string; region: string },
  creds: Credentials,
  call: SignedCall,
  /** Changes the signed request before it is sent. */
  tamper?: (wire: WireRequest) => WireRequest,
): Promise<SignedAnswer> {
  const headers = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': call.target, ...call.headers };
  const { status, text } = await signedPost(berth, creds, call, JSON.stringify(call.body), headers, tamper);
  try {
    return { status, json: JSON.parse(text) as SignedAnswer['json'] };
  } catch {
    throw new Error(`not JSON (${status}): ${text.slice(0, 200)}`);
  }
}

/** A Query-protocol (IAM, STS) POST of `form`, and the answer's error Code and Message when it is an ErrorResponse. */
export async function signedQuery(
  berth: { url: string; region: string },
  creds: Credentials,
  call: { form: URLSearchParams; service: string; region?: string },
): Promise<{ status: number; type?: string; message?: string; text: string }> {
  const { status, text } = await signedPost(berth, creds, call, call.form.toString(), { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  const fromXml = (s: string) => s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);
  return { status, ...(code !== undefined && { type: code }), ...(message !== undefined && { message: fromXml(message) }), text };
}

async function signedPost(
  berth: { url: string; region: string },
  creds: Credentials,
  call: Omit<SignedCall, 'target' | 'body' | 'headers'>,
  body: string,
  headers: Record<string, string>,
  tamper?: (wire: WireRequest) => WireRequest,
): Promise<{ status: number; text: string }> {
  const url = new URL(berth.url);
  const credentials = { ...creds, ...(call.sessionToken !== undefined && { sessionToken: call.sessionToken }) };
  const signer = new SignatureV4({ service: call.service ?? 'ecr', region: call.region ?? berth.region, credentials, sha256: Sha256 });
  const unsigned = new HttpRequest({
    method: 'POST',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: { host: url.host, ...headers },
    body,
  });
  const options = { ...(call.unsigned && { unsignableHeaders: new Set(call.unsigned) }), ...(call.signingDate && { signingDate: call.signingDate }) };
  const signed =
    call.presignExpires === undefined
      ? await signer.sign(unsigned, options)
      : await signer.presign(unsigned, { ...options, expiresIn: call.presignExpires, unhoistableHeaders: new Set(['x-amz-target']) });
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${uriEscape(k)}=${uriEscape(String(v))}`)
    .join('&');
  const wire = (tamper ?? ((w) => w))({ path: query === '' ? '/' : `/?${query}`, headers: { ...signed.headers }, body });
  return send(url, wire);
}

/** As the SDKs escape a query: RFC 3986, so `/` in X-Amz-Credential travels as %2F. */
function uriEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function send(url: URL, wire: WireRequest): Promise<{ status: number; text: string }> {
  // As raw [name, value, ...] pairs, the one form in which node:http sends a Host twice.
  const headers: string[] = [];
  for (const [name, value] of Object.entries({ ...wire.headers, 'content-length': String(Buffer.byteLength(wire.body)) })) {
    for (const one of Array.isArray(value) ? value : [value]) headers.push(name, one);
  }
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: wire.path,
        headers,
        setHost: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(wire.body);
  });
}
