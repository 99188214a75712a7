/** Response helpers for /v2: the headers every answer carries, and the common shapes. */
import type { ServerResponse } from 'node:http';

export const API_VERSION_HEADER = { 'Docker-Distribution-API-Version': 'registry/2.0' } as const;

/** A list value is sent as one header line per element. */
export type HeaderValues = Record<string, string | number | string[]>;

export function send(res: ServerResponse, status: number, headers: HeaderValues = {}, body?: string | Buffer): void {
  const h: HeaderValues = { ...API_VERSION_HEADER, ...headers };
  if (body === undefined) {
    if (h['Content-Length'] === undefined) h['Content-Length'] = 0;
    res.writeHead(status, h);
    res.end();
    return;
  }
  h['Content-Length'] ??= Buffer.byteLength(body);
  res.writeHead(status, h);
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string | number> = {}): void {
  send(res, status, { 'Content-Type': 'application/json; charset=utf-8', ...headers }, JSON.stringify(value));
}

/**
 * The path of a repository-scoped /v2 resource, with the name left unencoded as clients expect;
 * `prefix` is the request's (OciRequest.pathPrefix).
 */
export function repoPath(prefix: string | undefined, name: string, ...rest: string[]): string {
  return `/v2/${prefix ?? ''}${name}/${rest.join('/')}`;
}
