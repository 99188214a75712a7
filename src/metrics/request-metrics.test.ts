import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import type { Metric } from 'prom-client';
import { registryKey } from '../core/registry-key.js';
import type { RequestFacts } from '../http/request-facts.js';
import { RequestMetrics } from './request-metrics.js';

type Sample = { value: number; labels: Record<string, string | number> };

function metrics() {
  const families = new Map<string, Metric>();
  const m = new RequestMetrics({ registerMetric: (f) => families.set((f as unknown as { name: string }).name, f) });
  const values = async (name: string) => ((await families.get(name)!.get()) as unknown as { values: Sample[] }).values;
  return { m, values };
}

const home = registryKey('123456789012', 'us-east-1');
const away = registryKey('123456789012', 'eu-west-1');

function request(
  m: RequestMetrics,
  api: 'oci' | 'ecr',
  name: string,
  opts: { status?: number; repository?: string; error?: string; method?: string; away?: boolean } = {},
): void {
  const facts: RequestFacts = {
    requestId: 'r',
    startedMs: performance.now(),
    closedAt: undefined,
    bytes: { sent: 10, received: 1 },
    sourceIp: undefined,
    operation: { api, name },
    ...(opts.repository !== undefined && { repository: { registryKey: opts.away ? away : home, name: opts.repository } }),
    ...(opts.error !== undefined && { error: { code: opts.error, message: 'm' } }),
  };
  const req = { method: opts.method ?? 'GET' } as IncomingMessage;
  const res = { statusCode: opts.status ?? 200, headersSent: true } as ServerResponse;
  m.requestClosed(req, res, facts);
}

describe('request metrics', () => {
  it('count each request in its own series and each pull under its own repository, however requests alternate and repeat', async () => {
    const { m, values } = metrics();
    // Repeats and alternations of operations, APIs, status codes, unknown actions and repositories.
    const seq: Array<[api: 'oci' | 'ecr', name: string, opts?: Parameters<typeof request>[3]]> = [
      ['oci', 'manifest-read', { repository: 'a' }],
      ['oci', 'manifest-read', { repository: 'a' }],
      ['oci', 'manifest-read', { repository: 'b' }],
      ['oci', 'manifest-read', { repository: 'b', status: 404 }],
      ['ecr', 'manifest-read'],
      ['oci', 'blob-read', { repository: 'b' }],
      ['ecr', 'BatchGetImage'],
      ['ecr', 'NoSuchAction', { error: 'UnknownOperationException', status: 400 }],
      ['ecr', 'NoSuchAction', { error: 'UnknownOperationException', status: 400 }],
      ['ecr', 'BatchGetImage'],
      ['oci', 'manifest-read', { repository: 'a', method: 'HEAD' }],
      ['oci', 'manifest-read', { repository: 'a' }],
      ['oci', 'manifest-read', { repository: 'a', away: true }],
    ];
    for (const [api, name, opts] of seq) request(m, api, name, opts);
    const requests = (await values('berth_http_requests_total')).map((s) => `${s.labels.api} ${s.labels.operation} ${s.labels.code} ${s.value}`);
    assert.deepEqual(requests.sort(), [
      'ecr BatchGetImage 200 2',
      'ecr manifest-read 200 1',
      'ecr unknown 400 2',
      'oci blob-read 200 1',
      'oci manifest-read 200 6',
      'oci manifest-read 404 1',
    ]);
    const pulls = (await values('berth_repository_pulls_total')).map((s) => `${s.labels.registry_id} ${s.labels.repository} ${s.value}`);
    assert.deepEqual(pulls.sort(), ['123456789012:eu-west-1 a 1', '123456789012:us-east-1 a 3', '123456789012:us-east-1 b 1']);
  });
});
