/** The start's warm-up runs DescribeImages' pages over every made-up image, reading no store. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { warmListingCode } from './listing-warm-up.js';

it('describes every made-up image once, a page after another', async () => {
  const { ms, images } = await warmListingCode();
  assert.equal(images, 1200);
  assert.ok(Number.isFinite(ms) && ms >= 0);
});
