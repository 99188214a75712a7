/** StartImageScan, DescribeImageScanFindings; and the scan summary DescribeImages carries. */
import { z } from 'zod';
import { Codes } from '../../../core/errors.js';
import type { ImageScanRecord } from '../../../metadata/types.js';
import { accountOf } from '../../../core/registry-key.js';
import type { StoredFindings } from '../../../registry/scans.js';
import { repoScope, type EcrAction } from '../context.js';
import { decodeToken, encodeToken, imageId, maxResults, nextToken, parseInput, registryId, repositoryName } from '../input.js';
import { EcrError } from '../protocol.js';
import { wireTime } from '../wire-json.js';

const startInput = z.object({ registryId: registryId.optional(), repositoryName, imageId }).strict();

export const StartImageScan: EcrAction = async (call) => {
  const input = parseInput(startInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const started = await call.registry.scans.start(scope, input.imageId);
  return {
    registryId: accountOf(scope.registryKey),
    repositoryName: scope.name,
    imageId: { imageDigest: started.digest, ...(started.tag !== undefined && { imageTag: started.tag }) },
    imageScanStatus: { status: 'IN_PROGRESS', description: 'The scan is in progress.' },
  };
};

const findingsInput = z
  .object({ registryId: registryId.optional(), repositoryName, imageId, nextToken: nextToken.optional(), maxResults: maxResults(1000).optional() })
  .strict();

export const DescribeImageScanFindings: EcrAction = async (call) => {
  const input = parseInput(findingsInput, call.body);
  const scope = repoScope(call, input.repositoryName, input.registryId);
  const { digest, scan } = await call.registry.scans.get(scope, input.imageId);
  const out: Record<string, unknown> = {
    registryId: accountOf(scope.registryKey),
    repositoryName: scope.name,
    imageId: { imageDigest: digest, ...(input.imageId.imageTag !== undefined && { imageTag: input.imageId.imageTag }) },
    imageScanStatus: { status: scan.status, description: scan.description },
  };
  if (scan.status !== 'COMPLETE' || scan.findings === undefined) return out;
  const stored = JSON.parse(scan.findings) as StoredFindings;
  const start = Number(decodeToken('DescribeImageScanFindings', input.nextToken) ?? '0');
  if (!Number.isSafeInteger(start) || start < 0)
    throw new EcrError(Codes.InvalidParameter, "Invalid parameter at 'nextToken' failed to satisfy constraint: 'invalid token'");
  const limit = input.maxResults ?? 100;
  const enhanced = stored.enhancedFindings !== undefined;
  const all = enhanced ? stored.enhancedFindings! : stored.findings;
  out.imageScanFindings = {
    ...summaryTimes(scan),
    findingSeverityCounts: stored.findingSeverityCounts,
    [enhanced ? 'enhancedFindings' : 'findings']: all.slice(start, start + limit),
  };
  if (start + limit < all.length) out.nextToken = encodeToken('DescribeImageScanFindings', String(start + limit));
  return out;
};

function summaryTimes(scan: ImageScanRecord): Record<string, Date> {
  return {
    ...(scan.completedAt && { imageScanCompletedAt: scan.completedAt }),
    ...(scan.sourceUpdatedAt && { vulnerabilitySourceUpdatedAt: scan.sourceUpdatedAt }),
  };
}

/** The fields DescribeImages adds for a scanned image, in wire form (its pages are written as they are, WireList.add). */
export function scanSummaryShape(scan: ImageScanRecord | undefined): Record<string, unknown> {
  if (!scan) return {};
  const out: Record<string, unknown> = { imageScanStatus: { status: scan.status, description: scan.description } };
  if (scan.status === 'COMPLETE' && scan.findings !== undefined) {
    const stored = JSON.parse(scan.findings) as StoredFindings;
    out.imageScanFindingsSummary = {
      ...(scan.completedAt && { imageScanCompletedAt: wireTime(scan.completedAt) }),
      ...(scan.sourceUpdatedAt && { vulnerabilitySourceUpdatedAt: wireTime(scan.sourceUpdatedAt) }),
      findingSeverityCounts: stored.findingSeverityCounts,
    };
  }
  return out;
}
