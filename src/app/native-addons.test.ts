/** What the start-up log says about addons that cannot be used, and that it says nothing of a path switched off. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gcmInUse, missingAddonNotes } from './native-addons.js';

const on = { threadSends: true, sendPipe: true, mappedReads: true };

describe('missing native addons at start', () => {
  it('says nothing when every addon loads', () => {
    assert.deepEqual(missingAddonNotes(on, {}), []);
  });

  it('warns of a send pipe that did not load while the configuration asks for it', () => {
    const notes = missingAddonNotes(on, { sendPipe: 'send-pipe.node did not load' });
    assert.equal(notes.length, 1);
    assert.equal(notes[0]?.level, 'warn');
    assert.equal(notes[0]?.reason, 'send-pipe.node did not load');
    assert.match(notes[0]?.msg ?? '', /send pipe/);
  });

  it('warns of sock-send once, not of the pipe behind it as well', () => {
    const notes = missingAddonNotes(on, { sockSend: 'sock-send.node did not load', sendPipe: 'send-pipe.node did not load' });
    assert.deepEqual(
      notes.map((n) => n.reason),
      ['sock-send.node did not load'],
    );
  });

  it('is silent on paths the configuration switched off', () => {
    assert.deepEqual(missingAddonNotes({ ...on, threadSends: false }, { sockSend: 'x', sendPipe: 'y' }), []);
    assert.deepEqual(missingAddonNotes({ ...on, sendPipe: false }, { sendPipe: 'y' }), []);
  });

  it('keeps the cipher, mapping and trim notes at their levels', () => {
    const notes = missingAddonNotes(on, { gcm: 'a', seal: 'b', map: 'c', trim: 'd' });
    assert.deepEqual(
      notes.map((n) => [n.level, n.reason]),
      [
        ['warn', 'a'],
        ['warn', 'b'],
        ['info', 'c'],
        ['warn', 'd'],
      ],
    );
  });

  it('says which AES-GCM opens downloads: the AVX2 one, OpenSSL’s and why, or Node’s', () => {
    assert.match(gcmInUse(true, { avx2: true }), /AVX2: VAES AES-CTR \+ VPCLMULQDQ GHASH/);
    assert.match(gcmInUse(false, { avx2: true }), /OpenSSL's GCM \(gcmAvx2 off\)/);
    assert.match(gcmInUse(true, { avx2: false }), /OpenSSL's GCM \(this CPU lacks/);
    assert.match(gcmInUse(true, undefined), /Node's crypto/);
  });
});
