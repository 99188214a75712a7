/**
 * The reads of a table of named JSON rows keyed by (registry_id, kind, name), on PostgreSQL:
 * named_documents and event_resources. One row by name; a page in name order (bytewise) after a
 * name, of those whose name starts with a prefix. The twin of ../sqlite/named-rows.ts.
 */
import { registryKeyText, type RegistryKey } from '../../core/registry-key.js';
import type { Page } from '../types.js';
import { one, rows, type PgContext } from './pool.js';

export type NamedRowsTable = 'named_documents' | 'event_resources';

export function postgresNamedRows<Row extends object, Kind extends string, T>({ pool, collate }: PgContext, table: NamedRowsTable, toRecord: (r: Row) => T) {
  return {
    async get(registryKey: RegistryKey, kind: Kind, name: string): Promise<T | undefined> {
      const r = await one<Row>(pool, `SELECT * FROM ${table} WHERE registry_id = $1 AND kind = $2 AND name = $3`, [registryKeyText(registryKey), kind, name]);
      return r && toRecord(r);
    },
    async list(registryKey: RegistryKey, kind: Kind, page: Page & { prefix?: string }): Promise<T[]> {
      const found = await rows<Row>(
        pool,
        `SELECT * FROM ${table} WHERE registry_id = $1 AND kind = $2 AND name${collate} > $3 AND left(name, length($4)) = $4
         ORDER BY name${collate} LIMIT $5`,
        [registryKeyText(registryKey), kind, page.after ?? '', page.prefix ?? '', page.limit],
      );
      return found.map(toRecord);
    },
  };
}
