/**
 * TagUser/TagRole/TagPolicy's change on PostgreSQL (entity-tags.ts): the row is locked from its read to its
 * write, so two changes at once both land and neither takes it past the limit.
 */
import { applyTagChange, type TagChange, type TagChangeOutcome, type TaggedTable } from '../entity-tags.js';
import { one, withTransaction, type PgContext } from './pool.js';

export function changePostgresTags(pool: PgContext['pool'], table: TaggedTable, accountId: string, name: string, change: TagChange): Promise<TagChangeOutcome> {
  return withTransaction(pool, async (tx) => {
    const row = await one<{ tags: string }>(tx, `SELECT tags FROM ${table} WHERE account_id = $1 AND name = $2 FOR UPDATE`, [accountId, name]);
    const { outcome, write } = applyTagChange(row?.tags, change);
    if (write !== undefined) await tx.query(`UPDATE ${table} SET tags = $1 WHERE account_id = $2 AND name = $3`, [write, accountId, name]);
    return outcome;
  });
}
