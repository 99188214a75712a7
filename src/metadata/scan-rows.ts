/** How an image_scans row reads back, shared by both engines (pg is set to return BIGINT as numbers). */
import type { ImageScanRecord, ScanStatus } from './types.js';

export interface ScanRow {
  digest: string;
  status: ScanStatus;
  description: string;
  started_at: number;
  completed_at: number | null;
  source_updated_at: number | null;
  findings: string | null;
  fingerprint: string | null;
}

export const SCAN_COLUMNS = 'digest, status, description, started_at, completed_at, source_updated_at, findings, fingerprint';

export function toScan(r: ScanRow): ImageScanRecord {
  return {
    status: r.status,
    description: r.description,
    startedAt: new Date(r.started_at),
    ...(r.completed_at !== null && { completedAt: new Date(r.completed_at) }),
    ...(r.source_updated_at !== null && { sourceUpdatedAt: new Date(r.source_updated_at) }),
    ...(r.findings !== null && { findings: r.findings }),
    ...(r.fingerprint !== null && { fingerprint: r.fingerprint }),
  };
}
