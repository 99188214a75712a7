/**
 * A JSON-protocol POST signed by the SDK's own signer (@smithy/signature-v4), for calls whose
 * body an SDK command would not send as is: a malformed member, a header left unsigned, a
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
  const url = new URL(berth.url);
  const body = JSON.stringify(call.body);
  const credentials = { ...creds, ...(call.sessionToken !== undefined && { sessionToken: call.sessionToken }) };
  const signer = new SignatureV4({ service: call.service ?? 'ecr', region: call.region ?? berth.region, credentials, sha256: Sha256 });
  const unsigned = new HttpRequest({
    method: 'POST',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': call.target, ...call.headers },
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

function send(url: URL, wire: WireRequest): Promise<SignedAnswer> {
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
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as SignedAnswer['json'] });
          } catch {
            reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(wire.body);
  });
}
