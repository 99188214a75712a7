/**
 * The pull-through cache's blob fetches are a node's (`pullThroughMaxFetches`), shared by every
 * account: one account's rule pointing at an upstream that stalls must not hold them all and
 * refuse another account's cold pulls. The upstream here is a loopback server that answers a
 * blob GET with its headers and first bytes, then holds the rest until the test ends (and then
 * sends it, so each fetch ends as a good one does).
 */
import { CreatePullThroughCacheRuleCommand } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type ServerResponse, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { createAccount, otherAccountIdentity, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const BLOB_BYTES = 256 * 1024;
const HEAD_BYTES = 1024;

describe('pull-through blob fetches: an account holds at most half of a node’s', () => {
  let berth: BerthInProcess;
  let b: TestIdentity;
  let upstream: Server;
  /** The upstream's blobs, by digest, and the answers it holds (with what it has not sent yet). */
  const blobs = new Map<string, Buffer>();
  const held: Array<{ res: ServerResponse; rest: Buffer }> = [];
  const pulled: Array<{ repo: string; digest: string; authorization: string; ended: Promise<unknown> }> = [];

  before(async () => {
    upstream = createServer((req, res) => {
      if (req.url === '/v2/') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      const blob = blobs.get(/\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? '')?.[1] ?? '');
      if (!blob) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) });
      res.write(blob.subarray(0, HEAD_BYTES));
      held.push({ res, rest: blob.subarray(HEAD_BYTES) });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const addr = upstream.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    berth = await startInProcess({ onDisk: true, env: { BERTH_PULL_THROUGH_MAX_FETCHES: '2', BERTH_PULL_THROUGH_UPSTREAM_TIMEOUT_SECONDS: '120' } });
    await createAccount(berth, '222222222222');
    b = await otherAccountIdentity(berth, '222222222222');
    await ecrClient(berth).send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'up', upstreamRegistryUrl: url }));
    await b.ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'up', upstreamRegistryUrl: url }));
  });
  after(async () => {
    // The held answers end, the fetches commit and the clients' bodies end; only then does the
    // server close (a fetch cut by the server's own close is not this test's subject, and a
    // response still streaming holds the close for its grace period).
    for (const h of held) h.res.end(h.rest);
    await Promise.all(pulled.map((p) => p.ended));
    upstream?.closeAllConnections();
    upstream?.close();
    await berth?.cleanup();
  });

  /** A cold blob GET through the cache; answers the status (the body is left streaming). */
  async function pull(authorization: string, repo: string): Promise<{ status: number; code?: string; retryAfter: string | null }> {
    const blob = randomBytes(BLOB_BYTES);
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    blobs.set(digest, blob);
    const res = await fetch(`${berth.url}/v2/${repo}/blobs/${digest}`, { headers: { authorization } });
    if (res.status === 200) {
      // Read as it comes, to its end when the upstream sends the rest (or its cut).
      const ended = res.body!.pipeTo(new WritableStream()).catch(() => undefined);
      pulled.push({ repo, digest, authorization, ended });
      return { status: 200, retryAfter: null };
    }
    const body = (await res.json()) as { errors: { code: string }[] };
    return { status: res.status, code: body.errors[0]?.code, retryAfter: res.headers.get('retry-after') };
  }

  it('an upstream that drops the connection mid-blob fails that pull, not the server', async () => {
    assert.equal((await pull(berth.authorization, 'up/team/a')).status, 200);
    const { res } = held.pop()!;
    const client = pulled.pop()!;
    res.destroy();
    await client.ended;
    // The server is up: an 'error' event nobody heard ended its process before (and, here in
    // the test's process, failed the file as an uncaught exception).
    const up = await fetch(`${berth.url}/v2/`, { headers: { authorization: berth.authorization } });
    assert.equal(up.status, 200);
    await up.arrayBuffer();
  });

  it("one account's stalled fetches leave the other half to other accounts", async () => {
    assert.equal((await pull(berth.authorization, 'up/team/a')).status, 200, 'the first fetch streams');
    const second = await pull(berth.authorization, 'up/team/a');
    assert.deepEqual(second, { status: 429, code: 'TOOMANYREQUESTS', retryAfter: '1' }, "the account's share (1 of 2) is taken");
    assert.equal((await pull(b.authorization!, 'up/team/b')).status, 200, "another account's cold pull still fetches");
    assert.equal((await pull(b.authorization!, 'up/team/b')).status, 429, 'and it too holds only its share');
  });
});
