/** The memory line's per-upload figure: the peak's growth between the crowds, per added upload. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { peakKBPerUpload } from './upload-memory.js';

test('the peak growth per added upload is in KB (1024 bytes) over the uploads added, not all of them', () => {
  // Session 19's first full run: 50 peak 230 MB, 200 peak 243 MB.
  const kb = peakKBPerUpload({ startMB: 0, peakMB: 230, endMB: 0 }, 50, { startMB: 208, peakMB: 243, endMB: 225 }, 200);
  assert.equal(kb.toFixed(1), '88.7');
  // A peak that falls with the crowd reads as a negative growth, not as zero.
  assert.ok(peakKBPerUpload({ startMB: 0, peakMB: 210, endMB: 0 }, 50, { startMB: 0, peakMB: 207, endMB: 0 }, 200) < 0);
});
