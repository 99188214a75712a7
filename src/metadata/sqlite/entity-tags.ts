/** TagUser/TagRole/TagPolicy's change on SQLite: one IMMEDIATE transaction per change (entity-tags.ts). */
import { applyTagChange, type TagChange, type TagChangeOutcome, type TaggedTable } from '../entity-tags.js';
import type { Db } from './open.js';

export function sqliteTagChanger(db: Db, table: TaggedTable): (accountId: string, name: string, change: TagChange) => TagChangeOutcome {
  const read = db.prepare<[string, string], { tags: string }>(`SELECT tags FROM ${table} WHERE account_id = ? AND name = ?`);
  const write = db.prepare(`UPDATE ${table} SET tags = ? WHERE account_id = ? AND name = ?`);
  const change = db.transaction((accountId: string, name: string, c: TagChange) => {
    const { outcome, write: tags } = applyTagChange(read.get(accountId, name)?.tags, c);
    if (tags !== undefined) write.run(tags, accountId, name);
    return outcome;
  });
  return (accountId, name, c) => change.immediate(accountId, name, c);
}
