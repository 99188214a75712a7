/**
 * The AWS Query protocol that `aws iam` and `aws sts` speak: `POST /` with a form body
 * `Action=...&Version=...&Name=value...`, answered in XML. Lists arrive flattened
 * (`Tags.member.1.Key=...`); answers wrap results in `<ActionResponse><ActionResult>` and errors
 * in `<ErrorResponse><Error><Type><Code><Message>`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { IamCodes, type WireCode } from '../../core/errors.js';
import { REQUEST_ID_HEADER, requestIdOf } from '../request-facts.js';
import { lowerFirst } from '../model/refusal.js';

export const IAM_NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/';
/** STS's API version, as its callers send it in `Version`. */
export const STS_VERSION = '2011-06-15';
export const STS_NAMESPACE = `https://sts.amazonaws.com/doc/${STS_VERSION}/`;

/** An error in Query terms: an `IamCodes` entry (src/core/errors.ts), which carries its status, and a message. */
export class QueryError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(wire: WireCode, message: string) {
    super(message);
    this.name = 'QueryError';
    this.code = wire.code;
    this.status = wire.status;
  }
}

export function isQueryRequest(req: IncomingMessage): boolean {
  const type = req.headers['content-type'] ?? '';
  return req.method === 'POST' && type.startsWith('application/x-www-form-urlencoded') && req.headers['x-amz-target'] === undefined;
}

export function parseForm(body: Buffer): URLSearchParams {
  return new URLSearchParams(body.toString('utf8'));
}

/** Text as XML 1.0 may carry it: markup escaped, and the characters it cannot carry at all (a refused value quoted back may hold them) as U+FFFD. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!).replace(NOT_XML, '\uFFFD');
}

/** Control characters but tab, newline and carriage return; U+FFFE/U+FFFF; unpaired surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters to find
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A value to render as XML: scalars, nested objects, and lists rendered as `<member>` items. */
export type XmlValue = string | number | boolean | Date | undefined | XmlValue[] | { [k: string]: XmlValue };

export function toXml(value: XmlValue): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.map((v) => `<member>${toXml(v)}</member>`).join('');
  if (value instanceof Date) return value.toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (typeof value === 'object') {
    return Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `<${k}>${toXml(v)}</${k}>`)
      .join('');
  }
  return escapeXml(String(value));
}

export function sendQueryResult(res: ServerResponse, action: string, namespace: string, result: XmlValue): void {
  const requestId = requestIdOf(res);
  const inner = result === undefined ? '' : `<${action}Result>${toXml(result)}</${action}Result>`;
  const body = `<${action}Response xmlns="${namespace}">${inner}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
  res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body), [REQUEST_ID_HEADER]: requestId });
  res.end(body);
}

export function sendQueryError(res: ServerResponse, namespace: string, err: QueryError): void {
  const requestId = requestIdOf(res);
  const type = err.status >= 500 ? 'Receiver' : 'Sender';
  const body = `<ErrorResponse xmlns="${namespace}"><Error><Type>${type}</Type><Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
  res.writeHead(err.status, { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body), [REQUEST_ID_HEADER]: requestId });
  res.end(body);
}

/** A required string parameter, with IAM's validation error when missing. */
export function required(form: URLSearchParams, name: string): string {
  const v = form.get(name);
  if (v === null || v === '') throw missing(name);
  return v;
}

/**
 * `form`, once it names the required list `name` (the model's null refusal otherwise). The SDKs
 * and the CLI send an empty list as `Name=` (there, and empty; the action decides), and a list
 * with members as `Name.member.N`.
 */
export function requiredList(form: URLSearchParams, name: string): URLSearchParams {
  if (!form.has(name) && !form.has(`${name}.member.1`) && !form.has(`${name}.member.1.Key`)) throw missing(name);
  return form;
}

function missing(name: string): QueryError {
  return new QueryError(
    IamCodes.Validation,
    `1 validation error detected: Value null at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`,
  );
}
