/** A policies row as both stores read it: the principal ids are JSON, none (null) for a document put without them. */
export interface PolicyRow {
  document: string;
  updated_at: number | string;
  principal_ids: string | null;
}

export function policyOfRow(r: PolicyRow): { document: string; updatedAt: Date; principalIds?: Record<string, string> } {
  return {
    document: r.document,
    updatedAt: new Date(Number(r.updated_at)),
    ...(r.principal_ids !== null && { principalIds: JSON.parse(r.principal_ids) as Record<string, string> }),
  };
}

export const principalIdsText = (ids: Record<string, string> | undefined): string | null => (ids === undefined ? null : JSON.stringify(ids));
