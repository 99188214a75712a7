/**
 * Every legacy database the migration tests build: the rows each contract-legacy-* module (and
 * the IAM names' suite) writes into a database migrated only to 27, and the checks that the
 * migrated store still answers for them. One list, so both engines' tests build and check the same.
 */
import { checkLegacyForeignScans, LEGACY_FOREIGN_SCANS_SQL } from './contract-legacy-foreign-scans.js';
import { checkLegacyJobs, LEGACY_JOBS_SQL } from './contract-legacy-jobs.js';
import { checkLegacyOutbox, LEGACY_OUTBOX_SQL } from './contract-legacy-outbox.js';
import { checkLegacySigning, LEGACY_SIGNING_SQL } from './contract-legacy-signing.js';
import { checkLegacyUploads, LEGACY_UPLOADS_SQL } from './contract-legacy-uploads.js';
import { checkLegacyTwins, LEGACY_TWINS_SQL } from './contract-suite-iam-names.js';
import type { MetadataStore } from './types.js';

/** The migration every legacy database stops before. */
export const LEGACY_BEFORE = 28;

export const LEGACY_SQL: readonly string[] = [
  ...LEGACY_TWINS_SQL,
  ...LEGACY_SIGNING_SQL,
  ...LEGACY_UPLOADS_SQL,
  ...LEGACY_JOBS_SQL,
  ...LEGACY_OUTBOX_SQL,
  ...LEGACY_FOREIGN_SCANS_SQL,
];

export async function checkLegacy(store: MetadataStore): Promise<void> {
  await checkLegacyTwins(store);
  await checkLegacySigning(store);
  await checkLegacyUploads(store);
  await checkLegacyJobs(store);
  await checkLegacyOutbox(store);
  await checkLegacyForeignScans(store);
}
