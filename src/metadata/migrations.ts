/**
 * The one migration history, shared by every SQL engine. Each migration is written once in the
 * portable subset of SQL; the few words that differ between engines come from the dialect.
 * Migrations are append-only: never edit one that has shipped.
 */

export interface Dialect {
  /** An auto-incrementing integer primary key column type. */
  serialPrimaryKey: string;
  /** A byte-string column type. */
  bytes: string;
  /** A 64-bit integer column type. */
  bigint: string;
}

export interface Migration {
  version: number;
  name: string;
  sql: (d: Dialect) => string[];
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'core registry',
    sql: (d) => [
      `CREATE TABLE repositories (
        id ${d.serialPrimaryKey},
        registry_id TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at ${d.bigint} NOT NULL,
        UNIQUE (registry_id, name)
      )`,
      `CREATE TABLE blobs (
        digest TEXT PRIMARY KEY,
        size ${d.bigint} NOT NULL,
        created_at ${d.bigint} NOT NULL
      )`,
      `CREATE TABLE repository_blobs (
        repository_id ${d.bigint} NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
        digest TEXT NOT NULL REFERENCES blobs(digest),
        created_at ${d.bigint} NOT NULL,
        PRIMARY KEY (repository_id, digest)
      )`,
      `CREATE INDEX repository_blobs_digest ON repository_blobs (digest)`,
      `CREATE TABLE manifests (
        repository_id ${d.bigint} NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
        digest TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size ${d.bigint} NOT NULL,
        payload ${d.bytes} NOT NULL,
        artifact_type TEXT,
        subject_digest TEXT,
        annotations TEXT,
        pushed_at ${d.bigint} NOT NULL,
        PRIMARY KEY (repository_id, digest)
      )`,
      `CREATE INDEX manifests_subject ON manifests (repository_id, subject_digest)`,
      `CREATE TABLE manifest_references (
        repository_id ${d.bigint} NOT NULL,
        parent_digest TEXT NOT NULL,
        child_digest TEXT NOT NULL,
        kind TEXT NOT NULL,
        PRIMARY KEY (repository_id, parent_digest, kind, child_digest),
        FOREIGN KEY (repository_id, parent_digest) REFERENCES manifests(repository_id, digest) ON DELETE CASCADE
      )`,
      `CREATE INDEX manifest_references_child ON manifest_references (repository_id, child_digest)`,
      `CREATE TABLE tags (
        repository_id ${d.bigint} NOT NULL,
        name TEXT NOT NULL,
        digest TEXT NOT NULL,
        updated_at ${d.bigint} NOT NULL,
        PRIMARY KEY (repository_id, name),
        FOREIGN KEY (repository_id, digest) REFERENCES manifests(repository_id, digest) ON DELETE CASCADE
      )`,
      `CREATE INDEX tags_digest ON tags (repository_id, digest)`,
      `CREATE TABLE uploads (
        id TEXT PRIMARY KEY,
        repository_id ${d.bigint} NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
        size ${d.bigint} NOT NULL DEFAULT 0,
        created_at ${d.bigint} NOT NULL,
        updated_at ${d.bigint} NOT NULL
      )`,
    ],
  },
  {
    version: 2,
    name: 'ECR repository settings, resource tags, policies and identities',
    sql: (d) => [
      // One JSON column: ECR's repository settings are read and written whole, never queried by field.
      `ALTER TABLE repositories ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'`,
      `CREATE TABLE repository_resource_tags (
        repository_id ${d.bigint} NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
        tag_key TEXT NOT NULL,
        tag_value TEXT NOT NULL,
        PRIMARY KEY (repository_id, tag_key)
      )`,
      // Policies of a repository ('repository', 'lifecycle') or a registry ('registry').
      `CREATE TABLE policies (
        scope TEXT NOT NULL,
        kind TEXT NOT NULL,
        document TEXT NOT NULL,
        updated_at ${d.bigint} NOT NULL,
        PRIMARY KEY (scope, kind)
      )`,
      `CREATE TABLE registry_settings (
        registry_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (registry_id, name)
      )`,
      `CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at ${d.bigint} NOT NULL
      )`,
      `CREATE TABLE users (
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        user_id TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        created_at ${d.bigint} NOT NULL,
        PRIMARY KEY (account_id, name)
      )`,
      `CREATE TABLE user_policies (
        account_id TEXT NOT NULL,
        user_name TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        document TEXT,
        PRIMARY KEY (account_id, user_name, kind, name),
        FOREIGN KEY (account_id, user_name) REFERENCES users(account_id, name) ON DELETE CASCADE
      )`,
      `CREATE TABLE access_keys (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        user_name TEXT,
        sealed_secret TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at ${d.bigint} NOT NULL
      )`,
      `CREATE INDEX access_keys_user ON access_keys (account_id, user_name)`,
    ],
  },
];
