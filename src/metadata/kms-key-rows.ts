/** How KMS key rows read back from either engine (pg is set to return BIGINT as numbers). */
import type { KmsKeyOrigin, KmsKeyRecord, KmsKeyState } from './types.js';

export interface KmsKeyRow {
  id: string;
  account_id: string;
  region: string;
  arn: string;
  alias: string | null;
  description: string;
  state: string;
  origin: string;
  sealed_material: string | null;
  created_at: number;
}

export const KMS_KEY_COLUMNS = 'id, account_id, region, arn, alias, description, state, origin, sealed_material, created_at';

export function toKmsKey(r: KmsKeyRow): KmsKeyRecord {
  const k: KmsKeyRecord = {
    id: r.id,
    accountId: r.account_id,
    region: r.region,
    arn: r.arn,
    description: r.description,
    state: r.state as KmsKeyState,
    origin: r.origin as KmsKeyOrigin,
    createdAt: new Date(r.created_at),
  };
  if (r.alias !== null) k.alias = r.alias;
  if (r.sealed_material !== null) k.sealedMaterial = r.sealed_material;
  return k;
}
