import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { systemClock } from '../core/clock.js';
import { createSqliteMetadataStore } from '../metadata/sqlite/sqlite-store.js';
import { BerthMetrics, MAX_TARGET_SERIES } from './metrics.js';

type Sample = { value: number; labels: Record<string, string | number> };

describe('BerthMetrics', () => {
  const meta = createSqliteMetadataStore({ path: ':memory:' });
  after(async () => meta.close());

  it('keeps the event delivery failures bounded: targets past the limit count under _other', async () => {
    const metrics = new BerthMetrics({ usage: meta.usage, replication: meta.replication, clock: systemClock });
    // Target Ids are the users' own: one made, failed and deleted after another.
    for (let i = 0; i < MAX_TARGET_SERIES + 500; i++) metrics.eventDeliveryFailed(`churned-${i}`);
    metrics.eventDeliveryFailed('churned-0');
    metrics.eventDeliveryFailed('another');
    const family = metrics.registry.getSingleMetric('berth_event_delivery_failures_total')!;
    const values = ((await family.get()) as unknown as { values: Sample[] }).values;
    assert.equal(values.length, MAX_TARGET_SERIES + 1);
    const count = (target: string) => values.find((v) => v.labels.target === target)?.value;
    assert.equal(count('churned-0'), 2, 'a target with a series of its own keeps counting there');
    assert.equal(count(`churned-${MAX_TARGET_SERIES - 1}`), 1);
    assert.equal(count(`churned-${MAX_TARGET_SERIES}`), undefined);
    assert.equal(count('_other'), 501);
  });
});
