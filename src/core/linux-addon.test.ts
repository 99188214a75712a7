/** An optional addon loads, or says why not, and never throws. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lazyLinuxAddon, loadLinuxAddon } from './linux-addon.js';

describe('loadLinuxAddon', () => {
  it('answers a missing file with the reason, not an exception', () => {
    const got = loadLinuxAddon<object>('/nonexistent/berth-addon.node');
    assert.equal(got.addon, undefined);
    assert.match(got.why ?? '', process.platform === 'linux' ? /\/nonexistent\/berth-addon\.node did not load \(/ : /only built for Linux/);
  });

  it('loads a built addon', { skip: process.platform !== 'linux' && 'addons are built for Linux only' }, () => {
    const got = loadLinuxAddon<{ send?: unknown }>(fileURLToPath(new URL('../../native/sock-send.node', import.meta.url)));
    assert.equal(got.why, undefined);
    assert.equal(typeof got.addon?.send, 'function');
  });

  it('lazily loads once and keeps the answer', () => {
    const loaded = lazyLinuxAddon<object>('/nonexistent/berth-addon.node');
    const first = loaded();
    assert.equal(first.addon, undefined);
    assert.equal(loaded(), first);
  });
});
