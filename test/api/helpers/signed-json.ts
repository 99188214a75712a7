/**
 * A JSON- or Query-protocol POST signed by the SDK's own signer (@smithy/signature-v4), for calls
 * whose body an SDK command would not send as is: a malformed member, a header left unsigned.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Credentials } from '../../e2e/helpers/ecr-client.js';

export const ECR_TARGET = 'AmazonEC2ContainerRegistry_V20150921.';

export interface SignedCall {
  target: string;
  body: Record<string, unknown>;
  service?: string;
  region?: string;
  /** Headers sent but left out of the signature. */
  unsigned?: string[];
}

export interface SignedAnswer {
  status: number;
  json: { __type?: string; message?: string } & Record<string, unknown>;
}

export async function signedFetch(berth: { url: string; region: string }, creds: Credentials, call: SignedCall): Promise<SignedAnswer> {
  const res = await signedPost(berth, creds, call, JSON.stringify(call.body), { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': call.target });
  return { status: res.status, json: (await res.json()) as SignedAnswer['json'] };
}

/** A Query-protocol (IAM, STS) POST of `form`, and the answer's error Code and Message when it is an ErrorResponse. */
export async function signedQuery(
  berth: { url: string; region: string },
  creds: Credentials,
  call: { form: URLSearchParams; service: string; region?: string },
): Promise<{ status: number; type?: string; message?: string; text: string }> {
  const res = await signedPost(berth, creds, call, call.form.toString(), { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
  const text = await res.text();
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  const fromXml = (s: string) => s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);
  return { status: res.status, ...(code !== undefined && { type: code }), ...(message !== undefined && { message: fromXml(message) }), text };
}

async function signedPost(
  berth: { url: string; region: string },
  creds: Credentials,
  call: { service?: string; region?: string; unsigned?: string[] },
  body: string,
  headers: Record<string, string>,
): Promise<Response> {
  const url = new URL(berth.url);
  const signer = new SignatureV4({ service: call.service ?? 'ecr', region: call.region ?? berth.region, credentials: creds, sha256: Sha256 });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers: { host: url.host, ...headers },
      body,
    }),
    { ...(call.unsigned && { unsignableHeaders: new Set(call.unsigned) }) },
  );
  return fetch(berth.url, { method: 'POST', headers: signed.headers, body });
}
