/**
 * A JSON-protocol POST signed by the SDK's own signer (@smithy/signature-v4), for calls whose
 * body an SDK command would not send as is: a malformed member, a header left unsigned.
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
  const url = new URL(berth.url);
  const body = JSON.stringify(call.body);
  const signer = new SignatureV4({ service: call.service ?? 'ecr', region: call.region ?? berth.region, credentials: creds, sha256: Sha256 });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': call.target },
      body,
    }),
    { ...(call.unsigned && { unsignableHeaders: new Set(call.unsigned) }) },
  );
  const res = await fetch(berth.url, { method: 'POST', headers: signed.headers, body });
  return { status: res.status, json: (await res.json()) as SignedAnswer['json'] };
}
