/**
 * Open upload sessions are capped per account (the `uploadSessions` quota) under a ceiling for
 * the whole deployment (`maxUploadSessions`): one account's pusher, however many sessions it
 * leaves open, cannot refuse another account's uploads. Driven over /v2 with each account's login
 * and through InitiateLayerUpload with the ECR SDK.
 */
import { CreateRepositoryCommand, InitiateLayerUploadCommand } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ecrClient } from '../e2e/helpers/ecr-client.js';
import { createAccount, otherAccountIdentity, type TestIdentity } from '../e2e/helpers/iam-users.js';
import { errorCode, request, uploadUrl, type Fetched } from '../e2e/helpers/registry-http.js';
import { refusal } from '../e2e/helpers/refusal.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const PER_ACCOUNT = 3;
const TOTAL = 7;

describe('upload sessions: a cap per account under a ceiling for all', () => {
  let berth: BerthInProcess;
  let b: TestIdentity;
  let c: TestIdentity;

  before(async () => {
    berth = await startInProcess({
      onDisk: true,
      env: { BERTH_MAX_UPLOAD_SESSIONS: String(TOTAL), BERTH_QUOTAS: JSON.stringify({ uploadSessions: PER_ACCOUNT }) },
    });
    await createAccount(berth, '222222222222');
    await createAccount(berth, '333333333333');
    b = await otherAccountIdentity(berth, '222222222222');
    c = await otherAccountIdentity(berth, '333333333333');
    await ecrClient(berth).send(new CreateRepositoryCommand({ repositoryName: 'a/web' }));
    await b.ecr.send(new CreateRepositoryCommand({ repositoryName: 'b/web' }));
    await c.ecr.send(new CreateRepositoryCommand({ repositoryName: 'c/web' }));
  });
  after(async () => berth?.cleanup());

  const adminV2 = (path: string, init: RequestInit = {}) => request(`${berth.url}${path}`, init);
  const open = (v2: (path: string, init?: RequestInit) => Promise<Fetched>, repo: string) => v2(`/v2/${repo}/blobs/uploads/`, { method: 'POST' });

  /** Opens sessions until one is refused (at most `max`); returns the open ones' URLs and the refusal. */
  async function fill(v2: (path: string, init?: RequestInit) => Promise<Fetched>, repo: string, max = 20) {
    const opened: string[] = [];
    for (let i = 0; i < max; i++) {
      const r = await open(v2, repo);
      if (r.status !== 202) return { opened, refused: r };
      opened.push(uploadUrl(berth.url, r.headers.get('location')!));
    }
    return { opened, refused: undefined };
  }

  it("one account's open sessions do not refuse another's, until the ceiling", async () => {
    const mine = await fill(adminV2, 'a/web');
    assert.equal(mine.opened.length, PER_ACCOUNT, "the account's cap, not the deployment's");
    assert.equal(mine.refused?.status, 429);
    assert.equal(errorCode(mine.refused!), 'TOOMANYREQUESTS');
    assert.ok(Number(mine.refused!.headers.get('retry-after')) > 0, 'Retry-After says when to try again');
    assert.match(mine.refused!.body.toString(), /uploadSessions/);

    // Another account still uploads: the s33 bug refused it once the first had filled the table.
    const theirs = await fill(b.v2, 'b/web');
    assert.equal(theirs.opened.length, PER_ACCOUNT);
    assert.equal(errorCode(theirs.refused!), 'TOOMANYREQUESTS');

    // A third account reaches the ceiling on all (3 + 3 + 1 = 7) before its own cap.
    const third = await fill(c.v2, 'c/web');
    assert.equal(third.opened.length, TOTAL - 2 * PER_ACCOUNT);
    assert.equal(third.refused?.status, 429);
    assert.match(third.refused!.body.toString(), /maxUploadSessions/);

    // A finished or cancelled session frees its account's slot, and only that account's.
    assert.equal((await adminV2(new URL(mine.opened[0]!).pathname + new URL(mine.opened[0]!).search, { method: 'DELETE' })).status, 204);
    assert.equal((await open(adminV2, 'a/web')).status, 202);
    for (const url of [...mine.opened.slice(1), ...theirs.opened, ...third.opened]) {
      const u = new URL(url);
      const who = url.includes('/b/web/') ? b.v2 : url.includes('/c/web/') ? c.v2 : adminV2;
      await who(u.pathname + u.search, { method: 'DELETE' });
    }
  });

  it('InitiateLayerUpload past the cap: LimitExceededException, and nothing is opened', async () => {
    for (let i = 0; i < PER_ACCOUNT; i++) await b.ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'b/web' }));
    assert.match(await refusal(b.ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'b/web' }))), /^LimitExceededException: .*uploadSessions/);
    assert.equal((await open(c.v2, 'c/web')).status, 202, "another account's upload is not refused");
  });
});
