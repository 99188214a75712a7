/** The memory line's per-upload figure: the peak's growth between the crowds, per added upload. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, peakKBPerUpload, sealSlotsSample, streamingKBPerUpload } from './upload-memory.js';

test('the peak growth per added upload is in KB (1024 bytes) over the uploads added, not all of them', () => {
  // Session 19's first full run: 50 peak 230 MB, 200 peak 243 MB.
  const kb = peakKBPerUpload({ startMB: 0, peakMB: 230, endMB: 0, streamingMB: 0 }, 50, { startMB: 208, peakMB: 243, endMB: 225, streamingMB: 0 }, 200);
  assert.equal(kb.toFixed(1), '88.7');
  // A peak that falls with the crowd reads as a negative growth, not as zero.
  assert.ok(peakKBPerUpload({ startMB: 0, peakMB: 210, endMB: 0, streamingMB: 0 }, 50, { startMB: 0, peakMB: 207, endMB: 0, streamingMB: 0 }, 200) < 0);
});

test('the streaming growth per added upload reads the medians while all stream, not the peaks', () => {
  // This session's driver, main's build (round 0): peaks 171.3 and 221.8 MB at the crowds' starts,
  // RSS once all streamed 166.8 and 175.1 MB.
  const small = { startMB: 126.7, peakMB: 171.3, endMB: 164, streamingMB: 166.8 };
  const large = { startMB: 156.7, peakMB: 221.8, endMB: 190.5, streamingMB: 175.1 };
  assert.equal(streamingKBPerUpload(small, 50, large, 200).toFixed(1), '56.7');
  assert.equal(peakKBPerUpload(small, 50, large, 200).toFixed(1), '344.7');
});

test('the median of the samples: the middle one, or the mean of the middle two', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
});

test("the seal slots' figure is the budget block's sample, and absent from a build without it", () => {
  const text = [
    '# TYPE berth_upload_seal_slots_resident_bytes gauge',
    'berth_upload_seal_slots_resident_bytes{block="budget"} 8388608',
    'berth_upload_seal_slots_resident_bytes{block="bulk"} 0',
  ].join('\n');
  assert.equal(sealSlotsSample(text), 8 * 1024 * 1024);
  assert.equal(sealSlotsSample('berth_upload_sessions 3\n'), undefined);
});
