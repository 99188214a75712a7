/**
 * The reads of a table of named JSON rows keyed by (registry_id, kind, name), on SQLite:
 * named_documents and event_resources. One row by name; a page in name order (bytewise) after a
 * name, of those whose name starts with a prefix. The twin of ../postgres/named-rows.ts.
 */
import { registryKeyText, type RegistryKey } from '../../core/registry-key.js';
import type { Page } from '../types.js';
import type { Db } from './open.js';

export type NamedRowsTable = 'named_documents' | 'event_resources';

export function sqliteNamedRows<Row extends object, Kind extends string, T>(db: Db, table: NamedRowsTable, toRecord: (r: Row) => T) {
  const getStmt = db.prepare<[string, string, string], Row>(`SELECT * FROM ${table} WHERE registry_id = ? AND kind = ? AND name = ?`);
  // substr rather than LIKE: a prefix may hold LIKE's wildcards.
  const listStmt = db.prepare<[string, string, string, string, string, number], Row>(
    `SELECT * FROM ${table} WHERE registry_id = ? AND kind = ? AND name > ? AND substr(name, 1, length(?)) = ? ORDER BY name LIMIT ?`,
  );
  return {
    /** The row, synchronously: for a check inside a transaction. */
    row: (keyText: string, kind: Kind, name: string): Row | undefined => getStmt.get(keyText, kind, name),
    async get(registryKey: RegistryKey, kind: Kind, name: string): Promise<T | undefined> {
      const r = getStmt.get(registryKeyText(registryKey), kind, name);
      return r && toRecord(r);
    },
    async list(registryKey: RegistryKey, kind: Kind, page: Page & { prefix?: string }): Promise<T[]> {
      const prefix = page.prefix ?? '';
      return listStmt.all(registryKeyText(registryKey), kind, page.after ?? '', prefix, prefix, page.limit).map(toRecord);
    },
  };
}
