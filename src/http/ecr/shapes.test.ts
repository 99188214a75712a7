/**
 * DescribeImages and ListImages write their pages' items as they are (WireList.add, inWireForm):
 * their shapes must hold nothing toWire would change, or the wire would carry an ISO date or a null.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Digest } from '../../core/digest.js';
import type { ImageDetail } from '../../registry/images.js';
import { scanSummaryShape } from './actions/scans.js';
import { imageDetailShape } from './shapes.js';
import { WireList, wireJson } from './wire-json.js';

/** Where `v` holds a Date, a null or an undefined member, by path. */
function notInWireForm(v: unknown, path = '$'): string[] {
  if (v instanceof Date || v === null || v === undefined) return [path];
  if (typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => notInWireForm(x, `${path}.${k}`));
}

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}` as Digest;

/** Every optional member present. */
const full: ImageDetail = {
  digest: digest(1),
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  manifestSize: 500,
  blobBytes: 1234,
  sizeInBytes: 1234,
  children: [],
  pushedAt: new Date(1_700_000_000_123),
  lastPulledAt: new Date(1_700_000_100_456),
  tags: ['v1', 'latest'],
  artifactType: 'application/vnd.example+json',
  subject: digest(2),
  imageStatus: 'ARCHIVED',
  archivedAt: new Date(1_700_000_200_789),
  activatedAt: new Date(1_700_000_300_001),
};
const bare: ImageDetail = { ...full, tags: [], imageStatus: 'ACTIVE' };
for (const k of ['lastPulledAt', 'artifactType', 'subject', 'archivedAt', 'activatedAt'] as const) delete bare[k];

const scans = {
  none: undefined,
  inProgress: { status: 'IN_PROGRESS' as const, description: 'The scan is in progress.', startedAt: new Date(1) },
  complete: {
    status: 'COMPLETE' as const,
    description: 'The scan was completed successfully.',
    startedAt: new Date(1_700_000_000_000),
    completedAt: new Date(1_700_000_001_500),
    sourceUpdatedAt: new Date(1_699_000_000_250),
    findings: JSON.stringify({ findingSeverityCounts: { HIGH: 2, LOW: 1 }, findings: [] }),
  },
  completeWithoutTimes: {
    status: 'COMPLETE' as const,
    description: 'done',
    startedAt: new Date(1),
    findings: JSON.stringify({ findingSeverityCounts: {}, findings: [] }),
  },
};

describe('the listing shapes are in wire form', () => {
  const shapes = [full, bare].flatMap((d) => Object.values(scans).map((s) => imageDetailShape('123456789012', 'team/web', d, scanSummaryShape(s))));

  it('holds no Date, null or undefined member at any depth (DescribeImages)', () => {
    for (const s of shapes) assert.deepEqual(notInWireForm(s), []);
  });

  it('writes the bytes the generic path writes, timestamps as epoch seconds', () => {
    const list = new WireList();
    list.add(shapes.slice(0, 3), true);
    list.add(shapes.slice(3), true);
    const text = wireJson({ imageDetails: list }).toString();
    assert.equal(text, wireJson({ imageDetails: shapes }).toString());
    const [first] = (JSON.parse(text) as { imageDetails: Array<Record<string, unknown>> }).imageDetails.slice(2);
    assert.equal(first!.imagePushedAt, 1_700_000_000.123);
    assert.deepEqual(first!.imageScanFindingsSummary, {
      imageScanCompletedAt: 1_700_000_001.5,
      vulnerabilitySourceUpdatedAt: 1_699_000_000.25,
      findingSeverityCounts: { HIGH: 2, LOW: 1 },
    });
  });
});
