/**
 * A listing page's server time: the access log's `ms` found by the request id the answer carried.
 * The parsing on its own (lines cut short, other lines, ids not asked for), the reader's offsets
 * over a growing file, and a real Berth answering a /v2 and an ECR JSON page whose ids its log holds.
 */
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AccessLogTimes, requestTimes } from './access-log-times.js';
import { ecrPages, slowestLine, v2Pages } from './scale.js';
import { startBerthServer } from './servers.js';

const line = (id: string, ms: number) => JSON.stringify({ level: 30, requestId: id, method: 'GET', path: '/v2/_catalog', status: 200, ms, msg: 'request' });

test('requestTimes keeps the wanted ids and skips cut, foreign and unwanted lines', () => {
  const text = [line('a', 1.5), 'not json', line('b', 208), '{"requestId":"c","ms":', line('z', 9), '{"requestId":"d","ms":"7"}'].join('\n');
  assert.deepEqual(
    [...requestTimes(text, new Set(['a', 'b', 'c', 'd']))],
    [
      ['a', 1.5],
      ['b', 208],
    ],
  );
});

test('the reader skips what the log held before, and reads a line only once it is complete', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'access-log-'));
  const path = join(dir, 'access.log');
  try {
    await writeFile(path, `${line('old', 3)}\n`);
    const log = new AccessLogTimes(path);
    await log.skipToEnd();
    assert.equal((await log.times(['old'], 0)).size, 0, 'a line from before the walk is not read again');
    // Half a line (a batch cut mid-write), then its rest and one more.
    const full = line('p1', 4.25);
    await appendFile(path, full.slice(0, 20));
    assert.equal((await log.times(['p1'], 0)).size, 0);
    await appendFile(path, `${full.slice(20)}\n${line('p2', 12)}\n`);
    assert.deepEqual(
      [...(await log.times(['p1', 'p2'], 1000))],
      [
        ['p1', 4.25],
        ['p2', 12],
      ],
    );
    // An id never logged: the cap ends the wait and the id is missing, not invented.
    const t = performance.now();
    assert.equal((await log.times(['never'], 200)).size, 0);
    assert.ok(performance.now() - t >= 200);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the slowest page line: server and client for Berth, n/a for a server without a log', () => {
  const s = { maxMs: 208.04, slowest: { pass: 1, page: 8, serverMs: 3.1 }, server: { p99Ms: 3.1, maxMs: 3.1, missing: 0 } };
  assert.equal(slowestLine({ accessLog: '/x' }, s), 'server 3.1 ms, client 208.0 ms; server p99 3.1, max 3.1 ms');
  assert.equal(slowestLine({}, s), 'server n/a, client 208.0 ms');
  assert.equal(
    slowestLine({ accessLog: '/x' }, { maxMs: 20, slowest: { pass: 1, page: 2 }, server: { p99Ms: 2, maxMs: 2, missing: 1 } }),
    'server ? (not in its access log), client 20.0 ms; server p99 2.0, max 2.0 ms, 1 pages not logged',
  );
});

test("a real Berth's /v2 and ECR JSON pages carry the id its access log times them under", async () => {
  const work = await mkdtemp(join(tmpdir(), 'access-log-berth-'));
  const server = await startBerthServer(work, { accessLog: true });
  try {
    assert.ok(server.accessLog);
    const log = new AccessLogTimes(server.accessLog);
    await log.skipToEnd();
    const v2 = await v2Pages(server, '/v2/_catalog?n=1000', 'repositories')();
    const ecr = await ecrPages(server, 'DescribeRepositories')();
    assert.ok(v2.id && ecr.id && v2.id !== ecr.id, `ids: ${v2.id}, ${ecr.id}`);
    const times = await log.times([v2.id, ecr.id], 10_000);
    for (const id of [v2.id, ecr.id]) {
      const ms = times.get(id);
      assert.ok(ms !== undefined && ms >= 0, `${id} logged with its ms: ${ms}`);
    }
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
});

test('an empty BERTH_ACCESS_LOG in the env (a baseline without one) leaves the server without a log', async () => {
  const work = await mkdtemp(join(tmpdir(), 'access-log-berth-'));
  const server = await startBerthServer(work, { accessLog: true, env: { BERTH_ACCESS_LOG: '' } });
  try {
    assert.equal(server.accessLog, undefined);
    const page = await v2Pages(server, '/v2/_catalog?n=1000', 'repositories')();
    assert.ok(page.id, 'the id is still answered');
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
});
