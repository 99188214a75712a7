/**
 * IAM names without regard to case (migration 28). A user, role, group or customer managed policy
 * name is taken in its account in any case ("Bob" and "bob" cannot both exist), and a user, role
 * or group is found by its name in any case, with the case it was created in. Each of those tables
 * has name_key = lower(name), unique per account; a row that predates the rule and differs from an
 * older one only in case has none, and is found by its exact name alone. Placeholders come from
 * `ph` (`@pN` on SQLite, bound with `named`; `$N` on PostgreSQL).
 */

type Placeholder = (i: number) => string;

/**
 * INSERT of a new named row unless the account has its name in any case; `columns` start with
 * account_id, name. `also`: one more condition of the insert (a boundary's policy must exist).
 */
export function insertUnlessNameTaken(table: string, columns: readonly string[], ph: Placeholder, also?: string): string {
  const values = columns.map((_, i) => ph(i + 1)).join(', ');
  // The unique name_key settles two racing creates; NOT EXISTS also covers a pre-rule row without a key.
  return `INSERT INTO ${table} (${columns.join(', ')}, name_key) SELECT ${values}, lower(${ph(2)})
    WHERE NOT EXISTS (SELECT 1 FROM ${table} WHERE account_id = ${ph(1)} AND lower(name) = lower(${ph(2)}))${also === undefined ? '' : ` AND ${also}`}
    ON CONFLICT DO NOTHING`;
}

/** The WHERE (and ORDER BY, LIMIT) of a SELECT of the one row named `ph(2)` in any case in account `ph(1)`, the exact name first. */
export function nameInAnyCase(ph: Placeholder): string {
  return `account_id = ${ph(1)} AND (name = ${ph(2)} OR name_key = lower(${ph(2)})) ORDER BY CASE WHEN name = ${ph(2)} THEN 0 ELSE 1 END LIMIT 1`;
}

/** SQLite's placeholders for the two builders above, and the values bound to them. */
export const sqlitePh: Placeholder = (i) => `@p${i}`;
export const named = (values: readonly unknown[]): Record<string, unknown> => Object.fromEntries(values.map((v, i) => [`p${i + 1}`, v]));
export const pgPh: Placeholder = (i) => `$${i}`;
