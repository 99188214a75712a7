import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loggedPath } from './access-log.js';

describe('loggedPath', () => {
  it('keeps a path without a query as it is', () => {
    assert.equal(loggedPath('/v2/team/web/manifests/v1'), '/v2/team/web/manifests/v1');
  });

  it('redacts SigV4 query authentication and anything token-, key- or secret-ish, whatever the case or encoding', () => {
    assert.equal(
      loggedPath('/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2Fscope&X-Amz-Signature=abc&X-Amz-Security-Token=t&x-amz-signature=d&n=10'),
      '/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED&x-amz-signature=REDACTED&n=10',
    );
    assert.equal(
      loggedPath('/p?access_token=a&api%5Fkey=b&password=c&sessionId=d&last=e'),
      '/p?access_token=REDACTED&api%5Fkey=REDACTED&password=REDACTED&sessionId=REDACTED&last=e',
    );
  });

  it('keeps the parameters a reader needs: pagination, mounts, tags, digests', () => {
    const url = '/v2/a/blobs/uploads/?mount=sha256:abc&from=b/c&n=5&last=x&tag=v1&digest=sha256:def';
    assert.equal(loggedPath(url), url);
  });

  it('cuts a very long URL', () => {
    assert.ok(loggedPath('/v2/' + 'a'.repeat(10_000)).length < 2100);
  });
});
