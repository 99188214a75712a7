/**
 * A REST-JSON request (AWS Signer's protocol: the operation is the method and path) signed by
 * the SDK's own signer (@smithy/signature-v4), as `@aws-sdk/client-signer` would send it; that
 * client is not a dependency of Berth.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Credentials } from '../../e2e/helpers/ecr-client.js';

export interface RestCall {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string | string[]>;
  body?: Record<string, unknown>;
  service?: string;
}

export interface RestAnswer {
  status: number;
  /** The error's type (`x-amzn-ErrorType`), when it is one. */
  type?: string;
  json: Record<string, unknown>;
}

export async function signedRest(berth: { url: string; region: string }, creds: Credentials, call: RestCall): Promise<RestAnswer> {
  const url = new URL(berth.url);
  const body = call.body === undefined ? undefined : JSON.stringify(call.body);
  const signer = new SignatureV4({ service: call.service ?? 'signer', region: berth.region, credentials: creds, sha256: Sha256 });
  const signed = await signer.sign(
    new HttpRequest({
      method: call.method,
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: call.path,
      ...(call.query && { query: call.query }),
      headers: { host: url.host, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body }),
    }),
  );
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(call.query ?? {})) for (const one of Array.isArray(v) ? v : [v]) search.append(k, one);
  const q = search.toString().replace(/\+/g, '%20');
  const { host: _host, ...headers } = signed.headers;
  const res = await fetch(`${berth.url}${call.path}${q === '' ? '' : `?${q}`}`, { method: call.method, headers, ...(body !== undefined && { body }) });
  const text = await res.text();
  const type = res.headers.get('x-amzn-errortype') ?? undefined;
  return { status: res.status, ...(type !== undefined && { type }), json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}
