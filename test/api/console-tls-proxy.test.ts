/**
 * The console behind a TLS-terminating proxy (which talks plain HTTP to Berth and says
 * `X-Forwarded-Proto: https`): the session cookie is Secure and the registry endpoint the
 * console shows is https, as the token realm already is; straight over plain HTTP neither is.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConsoleBrowser } from '../e2e/helpers/console-browser.js';
import { adminCredentials } from '../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

describe('the console behind a TLS proxy', () => {
  let berth: BerthInProcess;
  before(async () => {
    berth = await startInProcess();
  });
  after(async () => berth?.cleanup());

  /** A browser whose every request the proxy forwards with X-Forwarded-Proto (or none). */
  const through = (proto: string | undefined) => {
    const b = new ConsoleBrowser(berth.url);
    const send = b.request.bind(b);
    b.request = (path, init = {}) => {
      const headers = new Headers(init.headers);
      if (proto !== undefined) headers.set('X-Forwarded-Proto', proto);
      return send(path, { ...init, headers });
    };
    return b;
  };

  it('sets a Secure cookie, and clears it Secure, when the proxy says https', async () => {
    const b = through('https');
    const signed = await b.signIn(adminCredentials(berth));
    assert.equal(signed.status, 200);
    assert.match(b.setCookies[0]!, /; Secure$/);
    assert.equal((signed.body.registry as { endpoint: string }).endpoint, `https://${berth.host}`);
    assert.equal((await b.signOut()).status, 204);
    assert.match(b.setCookies[1]!, /Max-Age=0; Secure$/);
  });

  it('sets no Secure flag over plain HTTP, whatever else the header says', async () => {
    for (const proto of [undefined, 'http', 'gopher']) {
      const b = through(proto);
      const signed = await b.signIn(adminCredentials(berth));
      assert.doesNotMatch(b.setCookies[0]!, /Secure/, String(proto));
      assert.equal((signed.body.registry as { endpoint: string }).endpoint, berth.url);
    }
  });
});
