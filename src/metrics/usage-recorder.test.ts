/**
 * The usage recorder's figures per flush: a flood of one repository's GETs adds to one entry (the
 * recorder keeps the last one found), and a flush takes that entry away, so what arrives after it
 * is written by the next flush and never added to figures already handed to the store.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import type { Logger } from 'pino';
import { registryKey } from '../core/registry-key.js';
import type { RequestFacts } from '../http/request-facts.js';
import type { TransferDelta, UsageStore } from '../metadata/usage.js';
import { UsageRecorder } from './usage-recorder.js';

const KEY = registryKey('123456789012', 'us-east-1');
const AT = new Date(Date.UTC(2026, 11, 6, 1, 0, 0));

function manifestGet(repository: string, sent: number): [IncomingMessage, ServerResponse, RequestFacts] {
  const facts = {
    requestId: 'r',
    startedMs: 0,
    closedAt: AT,
    bytes: { sent, received: 0 },
    sourceIp: '127.0.0.1',
    operation: { api: 'oci', name: 'manifest-read' },
    repository: { registryKey: KEY, name: repository },
  } as RequestFacts;
  return [{ method: 'GET' } as IncomingMessage, { statusCode: 200 } as ServerResponse, facts];
}

describe('UsageRecorder', () => {
  it('writes what arrived after a flush with the next flush, leaving the figures already written as they were', async () => {
    const written: TransferDelta[][] = [];
    const store = { addTransfer: async (deltas: TransferDelta[]) => void written.push(deltas) } as unknown as UsageStore;
    const log = { warn: () => undefined } as unknown as Logger;
    const usage = new UsageRecorder({ usage: store, clock: { now: () => AT }, log });
    usage.requestClosed(...manifestGet('team/api', 10));
    for (let i = 0; i < 3; i++) usage.requestClosed(...manifestGet('team/web', 100));
    await usage.flush();
    for (let i = 0; i < 2; i++) usage.requestClosed(...manifestGet('team/web', 100));
    await usage.flush();
    const day = Math.floor(AT.getTime() / 86_400_000);
    assert.deepEqual(written, [
      [
        { day, registryKey: KEY, repository: 'team/api', bytesIn: 0, bytesOut: 10, pulls: 1 },
        { day, registryKey: KEY, repository: 'team/web', bytesIn: 0, bytesOut: 300, pulls: 3 },
      ],
      [{ day, registryKey: KEY, repository: 'team/web', bytesIn: 0, bytesOut: 200, pulls: 2 }],
    ]);
  });
});
