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
  /** The 1-based position of `needle` in `haystack` (0 when absent), as an SQL expression. */
  position: (needle: string, haystack: string) => string;
  /**
   * The text of a string `field` of a JSON document Berth wrote (NULL when absent), as an SQL
   * expression: the field must come before any nested object's field of the same name.
   */
  jsonText: (document: string, field: string) => string;
  /** Whether a byte-string column holds the ASCII `text` (no quote) anywhere, as an SQL condition. */
  bytesContain: (column: string, text: string) => string;
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
  {
    version: 3,
    name: 'lifecycle (pull times, evaluation, previews), leases and garbage collection',
    sql: (d) => [
      `ALTER TABLE manifests ADD COLUMN last_pulled_at ${d.bigint}`,
      `ALTER TABLE repositories ADD COLUMN lifecycle_evaluated_at ${d.bigint}`,
      // One preview per repository, as ECR keeps; results are a JSON array of acted-on images.
      `CREATE TABLE lifecycle_previews (
        repository_id ${d.bigint} PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
        policy_text TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at ${d.bigint} NOT NULL,
        results TEXT
      )`,
      // Periodic work runs on one node at a time: the holder of an unexpired lease.
      `CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at ${d.bigint} NOT NULL
      )`,
      // Blobs that may have lost their last reference, reviewed once queued_at + grace has passed.
      // A push, HEAD or mount of a queued blob sets queued_at again (revives it).
      `CREATE TABLE gc_blob_reviews (
        digest TEXT PRIMARY KEY,
        queued_at ${d.bigint} NOT NULL
      )`,
      `CREATE INDEX gc_blob_reviews_due ON gc_blob_reviews (queued_at)`,
      // Blobs whose metadata is gone and whose bytes are to be deleted (the outbox of the sweep):
      // 'pending', then 'deleting' once a worker claimed it.
      `CREATE TABLE gc_blob_deletions (
        digest TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        updated_at ${d.bigint} NOT NULL
      )`,
      // Uploads between "bytes verified" and "blob recorded": their digest's file must not be deleted.
      `CREATE TABLE blob_commits (
        upload_id TEXT PRIMARY KEY,
        digest TEXT NOT NULL,
        started_at ${d.bigint} NOT NULL
      )`,
      `CREATE INDEX blob_commits_digest ON blob_commits (digest)`,
      `CREATE INDEX manifest_references_blob ON manifest_references (child_digest, kind)`,
      // Every blob stored before this migration is reviewed once.
      `INSERT INTO gc_blob_reviews (digest, queued_at) SELECT digest, created_at FROM blobs`,
    ],
  },
  {
    version: 4,
    name: 'durable jobs, image scans, package inventories and advisories',
    sql: (d) => [
      // The outbox: written in the same transaction as the change that calls for the work.
      `CREATE TABLE jobs (
        id ${d.serialPrimaryKey},
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        run_after ${d.bigint} NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        locked_by TEXT,
        locked_until ${d.bigint},
        last_error TEXT,
        created_at ${d.bigint} NOT NULL
      )`,
      `CREATE INDEX jobs_due ON jobs (kind, run_after)`,
      `CREATE TABLE image_scans (
        repository_id ${d.bigint} NOT NULL,
        digest TEXT NOT NULL,
        status TEXT NOT NULL,
        description TEXT NOT NULL,
        started_at ${d.bigint} NOT NULL,
        completed_at ${d.bigint},
        source_updated_at ${d.bigint},
        findings TEXT,
        PRIMARY KEY (repository_id, digest),
        FOREIGN KEY (repository_id, digest) REFERENCES manifests(repository_id, digest) ON DELETE CASCADE
      )`,
      // What a scan extracted from an image's layers, kept so new advisories re-evaluate it
      // without unpacking again. Keyed by manifest digest: the same image in two repositories is
      // read once.
      `CREATE TABLE package_inventories (
        digest TEXT PRIMARY KEY,
        inventory TEXT NOT NULL,
        created_at ${d.bigint} NOT NULL
      )`,
      `CREATE TABLE advisories (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        modified ${d.bigint} NOT NULL,
        document TEXT NOT NULL
      )`,
      `CREATE TABLE advisory_sources (
        name TEXT PRIMARY KEY,
        advisories INTEGER NOT NULL,
        imported_at ${d.bigint} NOT NULL,
        updated_at ${d.bigint} NOT NULL
      )`,
    ],
  },
  {
    version: 5,
    name: 'scan findings fingerprint',
    sql: () => [
      // What the findings are (advisory, package, version, fix, severity), hashed: a
      // re-evaluation that finds the same need not rewrite them.
      `ALTER TABLE image_scans ADD COLUMN fingerprint TEXT`,
    ],
  },
  {
    version: 6,
    name: 'customer KMS keys',
    sql: (d) => [
      // Keys of KMS-encrypted repositories. 'BERTH': material generated by Berth, kept sealed
      // under the server key. 'EXTERNAL': a key the object store's KMS holds, recorded (arn = the
      // reference as the user gave it, no material) so every key's blob store is known to GC.
      // NULL aliases are distinct in a UNIQUE constraint on both engines: many keys have none.
      `CREATE TABLE kms_keys (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        region TEXT NOT NULL,
        arn TEXT NOT NULL UNIQUE,
        alias TEXT,
        description TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,
        origin TEXT NOT NULL,
        sealed_material TEXT,
        created_at ${d.bigint} NOT NULL,
        UNIQUE (account_id, region, alias)
      )`,
    ],
  },
  {
    version: 7,
    name: 'events: the outbox, rules, targets, connections and API destinations',
    sql: (d) => [
      // The outbox: each event is written in the same transaction as the change it reports, then
      // fanned out to its rules' targets (as delivery jobs) by a background deliverer, which
      // claims rows the way jobs are claimed. `body` is the event JSON, built once.
      `CREATE TABLE event_outbox (
        seq ${d.serialPrimaryKey},
        id TEXT NOT NULL UNIQUE,
        registry_id TEXT NOT NULL,
        detail_type TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at ${d.bigint} NOT NULL,
        locked_by TEXT,
        locked_until ${d.bigint}
      )`,
      // EventBridge rules, connections and API destinations of a registry: read and written whole
      // (JSON), never queried by field.
      `CREATE TABLE event_resources (
        registry_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        document TEXT NOT NULL,
        created_at ${d.bigint} NOT NULL,
        updated_at ${d.bigint} NOT NULL,
        PRIMARY KEY (registry_id, kind, name)
      )`,
      `CREATE TABLE event_targets (
        registry_id TEXT NOT NULL,
        rule_name TEXT NOT NULL,
        target_id TEXT NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (registry_id, rule_name, target_id)
      )`,
    ],
  },
  {
    version: 8,
    name: 'audit trail',
    sql: (d) => [
      // One row per recorded call, in CloudTrail's shape (record: the event's JSON, as
      // LookupEvents returns it); the other columns are what LookupEvents filters on. Newest
      // first, (event_time, seq) is the page order and NextToken's key; seq breaks ties.
      `CREATE TABLE audit_events (
        seq ${d.serialPrimaryKey},
        event_id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        event_time ${d.bigint} NOT NULL,
        event_name TEXT NOT NULL,
        event_source TEXT NOT NULL,
        read_only INTEGER NOT NULL,
        username TEXT,
        access_key_id TEXT,
        resource_type TEXT,
        resource_name TEXT,
        record TEXT NOT NULL
      )`,
      // Each index costs every insert (one row per API call): the attributes people look up
      // (event name, user, repository) have one; EventSource, ReadOnly, ResourceType and
      // AccessKeyId filters walk an account's events newest first instead.
      `CREATE INDEX audit_events_time ON audit_events (account_id, event_time, seq)`,
      `CREATE INDEX audit_events_name ON audit_events (account_id, event_name, event_time)`,
      `CREATE INDEX audit_events_user ON audit_events (account_id, username, event_time)`,
      `CREATE INDEX audit_events_resource ON audit_events (account_id, resource_name, event_time)`,
    ],
  },
  {
    version: 9,
    name: 'daily usage aggregates',
    sql: (d) => [
      // One row per UTC day (days since the epoch) and repository: transfer and pulls added by
      // every node's flushes, storage as a sum of samples and their count (the day's average).
      // repository '' is the registry's own row: its deduplicated storage.
      `CREATE TABLE usage_daily (
        day ${d.bigint} NOT NULL,
        registry_id TEXT NOT NULL,
        repository TEXT NOT NULL,
        bytes_in ${d.bigint} NOT NULL DEFAULT 0,
        bytes_out ${d.bigint} NOT NULL DEFAULT 0,
        pulls ${d.bigint} NOT NULL DEFAULT 0,
        storage_sum ${d.bigint} NOT NULL DEFAULT 0,
        storage_samples INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, registry_id, repository)
      )`,
    ],
  },
  {
    version: 10,
    name: 'IAM roles and OIDC providers',
    sql: (d) => [
      // tags: a JSON array of {Key, Value}, read whole with the role (at most 50).
      `CREATE TABLE roles (
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        role_id TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        trust_policy TEXT NOT NULL,
        description TEXT NOT NULL,
        max_session_duration INTEGER NOT NULL,
        tags TEXT NOT NULL,
        created_at ${d.bigint} NOT NULL,
        PRIMARY KEY (account_id, name)
      )`,
      `CREATE TABLE role_policies (
        account_id TEXT NOT NULL,
        role_name TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        document TEXT,
        PRIMARY KEY (account_id, role_name, kind, name),
        FOREIGN KEY (account_id, role_name) REFERENCES roles(account_id, name) ON DELETE CASCADE
      )`,
      // client_ids, thumbprints: JSON arrays of strings.
      `CREATE TABLE oidc_providers (
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        client_ids TEXT NOT NULL,
        thumbprints TEXT NOT NULL,
        created_at ${d.bigint} NOT NULL,
        PRIMARY KEY (account_id, url)
      )`,
    ],
  },
  {
    version: 11,
    name: 'repository creation templates',
    sql: (d) => [
      // One row per template (ECR's RCT) of a registry, keyed by its prefix ('ROOT' or a
      // namespace without the trailing slash). The settings are one JSON document, read and
      // written whole; version guards an update made from a read against a concurrent one.
      `CREATE TABLE repository_creation_templates (
        registry_id TEXT NOT NULL,
        prefix TEXT NOT NULL,
        document TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at ${d.bigint} NOT NULL,
        updated_at ${d.bigint} NOT NULL,
        PRIMARY KEY (registry_id, prefix)
      )`,
    ],
  },
  {
    version: 12,
    name: 'replication status',
    sql: (d) => [
      // One row per pushed image and replication destination, keyed by the source repository's
      // name (rows outlive the image: ECR answers for images pushed earlier too).
      `CREATE TABLE replication_status (
        registry_id TEXT NOT NULL,
        repository TEXT NOT NULL,
        digest TEXT NOT NULL,
        destination_region TEXT NOT NULL,
        destination_registry TEXT NOT NULL,
        status TEXT NOT NULL,
        failure_code TEXT,
        updated_at ${d.bigint} NOT NULL,
        PRIMARY KEY (registry_id, repository, digest, destination_region, destination_registry)
      )`,
    ],
  },
  {
    version: 13,
    name: 'named documents (secrets, pull-through cache rules)',
    sql: (d) => [
      // Secrets Manager secrets (values sealed under the server key), pull-through cache rules
      // and when each cached tag was last checked upstream: read and written whole (JSON).
      `CREATE TABLE named_documents (
        registry_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        document TEXT NOT NULL,
        created_at ${d.bigint} NOT NULL,
        updated_at ${d.bigint} NOT NULL,
        PRIMARY KEY (registry_id, kind, name)
      )`,
    ],
  },
  {
    version: 14,
    name: 'service quotas',
    sql: (d) => [
      // One account's value of a quota, where it differs from the deployment's (registry/quotas.ts).
      `CREATE TABLE account_quotas (
        account_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value ${d.bigint} NOT NULL,
        PRIMARY KEY (account_id, name)
      )`,
      // ECR's layer API limits the parts of an upload and their sizes (all but the last).
      `ALTER TABLE uploads ADD COLUMN layer_parts INTEGER NOT NULL DEFAULT 0`,
      `ALTER TABLE uploads ADD COLUMN last_part_bytes ${d.bigint} NOT NULL DEFAULT 0`,
    ],
  },
  {
    version: 15,
    name: 'replication lag',
    // Status rows outlive their images; the lag a metrics scrape asks for reads only the pending.
    sql: () => [`CREATE INDEX replication_status_pending ON replication_status (status, destination_region, destination_registry, updated_at)`],
  },
  {
    version: 16,
    name: 'archive storage class',
    sql: (d) => [
      // ECR's imageStatus (ACTIVE, ARCHIVED, ACTIVATING) and when the image last changed class.
      `ALTER TABLE manifests ADD COLUMN image_status TEXT NOT NULL DEFAULT 'ACTIVE'`,
      `ALTER TABLE manifests ADD COLUMN archived_at ${d.bigint}`,
      `ALTER TABLE manifests ADD COLUMN activated_at ${d.bigint}`,
      // Where a blob's bytes are: the standard store, or the archive location (archiveStorage).
      `ALTER TABLE blobs ADD COLUMN storage_class TEXT NOT NULL DEFAULT 'STANDARD'`,
    ],
  },
  {
    version: 17,
    name: 'console passwords and sessions',
    sql: (d) => [
      // An IAM user's console password (IAM's login profile): an scrypt hash, never the password.
      // It goes with its user (IdentityAdmin refuses to delete a user that still has one, as IAM).
      `CREATE TABLE login_profiles (
        account_id TEXT NOT NULL,
        user_name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        password_reset_required INTEGER NOT NULL,
        created_at ${d.bigint} NOT NULL,
        updated_at ${d.bigint} NOT NULL,
        PRIMARY KEY (account_id, user_name),
        FOREIGN KEY (account_id, user_name) REFERENCES users(account_id, name) ON DELETE CASCADE
      )`,
      // The web console's sessions, keyed by the SHA-256 of the cookie's id (never the id).
      `CREATE TABLE console_sessions (
        id_hash TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        basis TEXT NOT NULL,
        created_at ${d.bigint} NOT NULL,
        last_seen_at ${d.bigint} NOT NULL,
        expires_at ${d.bigint} NOT NULL
      )`,
      `CREATE INDEX console_sessions_expiry ON console_sessions (expires_at)`,
    ],
  },
  {
    version: 19,
    name: 'tags by digest with their names',
    sql: () => [
      // Listings name each image's tags by its digest: with the name in the index, a page of
      // 1,000 images reads the index alone instead of a table row per tag.
      `CREATE INDEX tags_digest_name ON tags (repository_id, digest, name)`,
      `DROP INDEX tags_digest`,
    ],
  },
  {
    version: 20,
    name: 'audit trail in batches',
    sql: (d) => [
      // One row per batch the audit thread stores (about a second of calls, up to 500), not per
      // call: the calls as a few deflated texts (form 2), or rows carried over from audit_events
      // (form 1). Event ids are the batch id with the call's index in its last four hex digits.
      `CREATE TABLE audit_batches (
        seq ${d.serialPrimaryKey},
        batch_id TEXT NOT NULL UNIQUE,
        first_time ${d.bigint} NOT NULL,
        last_time ${d.bigint} NOT NULL,
        form INTEGER NOT NULL,
        calls ${d.bytes} NOT NULL
      )`,
      `CREATE INDEX audit_batches_time ON audit_batches (last_time)`,
      // One row per distinct (account, attribute, value) in a batch, with the time span of its
      // calls and a bit mask of the batch's texts that hold one: a flood of GETs by one user on
      // one repository indexes a few keys a batch instead of several per call. attr 0 is every
      // call of the account (the unfiltered order); 8 (EventId) is kept for form-1 batches only.
      `CREATE TABLE audit_keys (
        account_id TEXT NOT NULL,
        attr INTEGER NOT NULL,
        value TEXT NOT NULL,
        last_time ${d.bigint} NOT NULL,
        batch_seq ${d.bigint} NOT NULL,
        first_time ${d.bigint} NOT NULL,
        chunks INTEGER NOT NULL,
        PRIMARY KEY (account_id, attr, value, last_time, batch_seq)
      )`,
      `CREATE INDEX audit_keys_batch ON audit_keys (batch_seq)`,
    ],
  },
  {
    version: 21,
    name: 'image listings from one index',
    sql: () => [
      // ListImages and DescribeImages walk a repository's images in digest order and read only
      // these columns. Without them in the index, each image of a page is a lookup of its table
      // row (which holds the manifest's bytes), in no order: 1,000 reads scattered over the
      // whole table, most of them past SQLite's page cache (4-5 ms of a 1,000-image page on
      // 100,000 images, against ~0.3 ms from this index's consecutive entries).
      `CREATE INDEX manifests_listing ON manifests (repository_id, digest, image_status, media_type, size, pushed_at, last_pulled_at, artifact_type, subject_digest, archived_at, activated_at)`,
    ],
  },
  {
    version: 22,
    name: 'blob sizes from one index',
    sql: () => [
      // A DescribeImages page sums each image's blob sizes: by the table's key that is a seek in
      // its key index and another in the table, 1,000 of each scattered over every blob; with the
      // size in an index it is one (~2.4 ms down to ~1.1 ms of a 1,000-image page on 100,000).
      `CREATE INDEX blobs_sizes ON blobs (digest, size)`,
    ],
  },
  {
    version: 23,
    name: 'permissions boundaries',
    sql: () => [
      // The ARN of the managed policy capping what a user's or role's identity policies allow;
      // NULL for none. It goes with the row when the user or role is deleted, as in IAM.
      `ALTER TABLE users ADD COLUMN permissions_boundary TEXT`,
      `ALTER TABLE roles ADD COLUMN permissions_boundary TEXT`,
    ],
  },
  {
    version: 24,
    name: 'customer managed policies',
    sql: (d) => [
      // An account's own managed policies (IAM's CreatePolicy). Attachments stay where AWS
      // managed ones are (user_policies, role_policies: kind 'managed', the ARN as the name), and
      // a boundary in users/roles.permissions_boundary. tags: a JSON array of {Key, Value}.
      `CREATE TABLE customer_policies (
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        policy_id TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        description TEXT NOT NULL,
        default_version INTEGER NOT NULL,
        next_version INTEGER NOT NULL,
        tags TEXT NOT NULL,
        created_at ${d.bigint} NOT NULL,
        updated_at ${d.bigint} NOT NULL,
        PRIMARY KEY (account_id, name)
      )`,
      // Its versions (v1, v2, ...: the number), at most five, one of them the default.
      `CREATE TABLE customer_policy_versions (
        account_id TEXT NOT NULL,
        policy_name TEXT NOT NULL,
        version INTEGER NOT NULL,
        document TEXT NOT NULL,
        created_at ${d.bigint} NOT NULL,
        PRIMARY KEY (account_id, policy_name, version),
        FOREIGN KEY (account_id, policy_name) REFERENCES customer_policies(account_id, name) ON DELETE CASCADE
      )`,
    ],
  },
  {
    version: 25,
    name: 'IAM groups',
    sql: (d) => [
      // IAM's groups ("groups" is a keyword in SQL's window frames), their members and policies
      // (as user_policies: kind 'inline' with a document, or 'managed' naming an ARN).
      `CREATE TABLE iam_groups (
        account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        group_id TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        created_at ${d.bigint} NOT NULL,
        PRIMARY KEY (account_id, name)
      )`,
      // IdentityAdmin refuses to delete a user still in a group, and GroupAdmin a group with
      // members, as IAM; the cascades only keep the rows consistent.
      `CREATE TABLE iam_group_members (
        account_id TEXT NOT NULL,
        group_name TEXT NOT NULL,
        user_name TEXT NOT NULL,
        PRIMARY KEY (account_id, group_name, user_name),
        FOREIGN KEY (account_id, group_name) REFERENCES iam_groups(account_id, name) ON DELETE CASCADE,
        FOREIGN KEY (account_id, user_name) REFERENCES users(account_id, name) ON DELETE CASCADE
      )`,
      // A user's groups, read for every cache miss of its identity policies.
      `CREATE INDEX iam_group_members_user ON iam_group_members (account_id, user_name)`,
      `CREATE TABLE iam_group_policies (
        account_id TEXT NOT NULL,
        group_name TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        document TEXT,
        PRIMARY KEY (account_id, group_name, kind, name),
        FOREIGN KEY (account_id, group_name) REFERENCES iam_groups(account_id, name) ON DELETE CASCADE
      )`,
    ],
  },
  {
    version: 26,
    name: 'pull-time update exclusions',
    sql: (d) => [
      // ECR's pull-time update exclusions: the IAM principals (user or role ARNs) of a registry
      // whose pulls leave lastRecordedPullTime as it was. At most 100 per registry (the core's).
      `CREATE TABLE pull_time_exclusions (
        registry_id TEXT NOT NULL,
        principal_arn TEXT NOT NULL,
        created_at ${d.bigint} NOT NULL,
        PRIMARY KEY (registry_id, principal_arn)
      )`,
    ],
  },
  {
    version: 27,
    name: 'replication backfills',
    sql: (d) => [
      // ECR's replication backfills: a registry's existing images replicated to one destination.
      // "running" is 1 while the backfill is not in a terminal status and NULL after: the
      // unique index then allows one running backfill per destination region (NULLs are distinct
      // on both engines), whatever the number of nodes starting one at once. "generation" names
      // the one job that may advance it (see replication/backfill-runner.ts).
      `CREATE TABLE replication_backfills (
        id TEXT PRIMARY KEY,
        registry_id TEXT NOT NULL,
        destination_region TEXT NOT NULL,
        destination_registry TEXT NOT NULL,
        status TEXT NOT NULL,
        running INTEGER,
        failure_code TEXT,
        prepared INTEGER NOT NULL DEFAULT 0,
        generation INTEGER NOT NULL DEFAULT 0,
        started_at ${d.bigint} NOT NULL,
        ended_at ${d.bigint}
      )`,
      `CREATE UNIQUE INDEX replication_backfills_running ON replication_backfills (registry_id, destination_region, running)`,
      `CREATE INDEX replication_backfills_listing ON replication_backfills (registry_id, started_at, id)`,
      // One row per image and tag to replicate (tag '' for an untagged image), in the order they
      // run; status NULL until replicated.
      `CREATE TABLE replication_backfill_items (
        backfill_id TEXT NOT NULL REFERENCES replication_backfills(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        repository TEXT NOT NULL,
        digest TEXT NOT NULL,
        tag TEXT NOT NULL,
        status TEXT,
        failure_code TEXT,
        PRIMARY KEY (backfill_id, seq)
      )`,
    ],
  },
  {
    version: 28,
    name: 'IAM names without regard to case',
    sql: () =>
      IAM_NAMED_TABLES.flatMap((table) => [
        // IAM: user, group, role and policy names are unique in an account without regard to
        // case. name_key is lower(name) (names are ASCII, so both engines agree on lower()), unique
        // per account. A registry may already hold names differing only in case: the oldest of
        // each such set takes the key, the others keep none (NULL, which a unique index lets
        // repeat) and stay reachable by their exact name, so this migration never fails on data.
        `ALTER TABLE ${table} ADD COLUMN name_key TEXT`,
        // Finds a name in any case among all rows, keyed or not: the UPDATE below (one lookup a row
        // rather than a scan of the account's: 5,000 users took 7.6 s without it) and the
        // NOT EXISTS of every create (iam-names.ts).
        `CREATE INDEX ${table}_lower_name ON ${table} (account_id, lower(name))`,
        `UPDATE ${table} SET name_key = lower(name) WHERE NOT EXISTS (
          SELECT 1 FROM ${table} older WHERE older.account_id = ${table}.account_id AND lower(older.name) = lower(${table}.name)
          AND (older.created_at < ${table}.created_at OR (older.created_at = ${table}.created_at AND older.name < ${table}.name)))`,
        `CREATE UNIQUE INDEX ${table}_name_key ON ${table} (account_id, name_key)`,
      ]),
  },
  {
    version: 29,
    name: "IAM users' tags",
    sql: () => [
      // A JSON array of {Key, Value}, read whole with the user (at most 50), as roles' tags are:
      // the user's aws:PrincipalTag/* on every request it signs. Existing users have none.
      `ALTER TABLE users ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'`,
    ],
  },
  {
    version: 30,
    name: 'signing configuration among the registry settings',
    sql: () => [
      // Managed signing's configuration joins scanning's and replication's in registry_settings
      // (name 'signing'), so a manifest push reads all three in one query. It was a named
      // document (kind 'signing-config', name 'registry') until now: carried over as it is.
      `INSERT INTO registry_settings (registry_id, name, value)
        SELECT registry_id, 'signing', document FROM named_documents WHERE kind = 'signing-config' AND name = 'registry'`,
      `DELETE FROM named_documents WHERE kind = 'signing-config'`,
    ],
  },
  {
    version: 31,
    name: 'signing statuses of deleted images',
    sql: (d) => {
      // A signing status is named <repository>@<digest>#<profile ARN> (no '@' in a repository
      // name, no '#' in either). Image deletes remove their statuses from now on; these are the
      // ones deletes left behind before. Each row is matched by the repository and manifest keys.
      const at = d.position("'@'", 'named_documents.name');
      const hash = d.position("'#'", 'named_documents.name');
      return [
        `DELETE FROM named_documents WHERE kind = 'signing-status' AND NOT EXISTS (
          SELECT 1 FROM repositories r JOIN manifests m ON m.repository_id = r.id
          WHERE r.registry_id = named_documents.registry_id
            AND r.name = substr(named_documents.name, 1, ${at} - 1)
            AND m.digest = substr(named_documents.name, ${at} + 1, ${hash} - ${at} - 1))`,
      ];
    },
  },
  {
    version: 32,
    name: "the unique ids a role's trust policy names",
    sql: () => [
      // A JSON object: principal ARN -> the unique id of the user or role it named when the trust
      // policy was saved. Existing roles have none, and their trust policies match by ARN as before.
      `ALTER TABLE roles ADD COLUMN trust_principal_ids TEXT`,
    ],
  },
  {
    version: 33,
    name: "upload sessions' account",
    sql: (d) => {
      // The open-session cap is per account (one account's pusher must not refuse every
      // account's uploads), so a session carries its account and the count is an index range.
      const colon = d.position("':'", 'r.registry_id');
      return [
        `ALTER TABLE uploads ADD COLUMN account_id TEXT NOT NULL DEFAULT ''`,
        `UPDATE uploads SET account_id = (SELECT substr(r.registry_id, 1, ${colon} - 1) FROM repositories r WHERE r.id = uploads.repository_id)`,
        `CREATE INDEX uploads_account ON uploads (account_id)`,
      ];
    },
  },
  {
    version: 34,
    name: 'the unique ids a resource policy names',
    sql: () => [
      // As roles.trust_principal_ids, for repository and registry policies: principal ARN -> unique
      // id when the policy was put. Policies put before have none and match by ARN as before.
      `ALTER TABLE policies ADD COLUMN principal_ids TEXT`,
    ],
  },
  {
    version: 35,
    name: "jobs' account",
    sql: (d) => {
      // Jobs are claimed in turns between accounts (one account's backlog must not hold back every
      // other's), so a job carries its account. Queued jobs name their registry key ("account:region")
      // in their payload, in a field of their kind's own name (the payloads are a stored format);
      // the kinds that name none (advisory re-evaluation) are the deployment's own work: account ''.
      const keyField: Record<string, string> = {
        'scan-image': 'registryId',
        'event-delivery': 'registryId',
        'archive.move': 'registryKey',
        'sign-image': 'registryKey',
        'replicate-image': 'source',
        'replication-backfill-prepare': 'registry',
        'replication-backfill-run': 'registry',
      };
      const key = `(CASE kind ${Object.entries(keyField)
        .map(([kind, field]) => `WHEN '${kind}' THEN ${d.jsonText('payload', field)}`)
        .join(' ')} END)`;
      const colon = d.position("':'", key);
      return [
        `ALTER TABLE jobs ADD COLUMN account_id TEXT NOT NULL DEFAULT ''`,
        `UPDATE jobs SET account_id = COALESCE(CASE WHEN ${colon} > 0 THEN substr(${key}, 1, ${colon} - 1) END, '')`,
        // A claim walks the accounts with jobs of a kind (one index probe each) and takes each
        // one's oldest due jobs from this index; it serves the per-kind counts as jobs_due did.
        `CREATE INDEX jobs_account_due ON jobs (kind, account_id, run_after, id)`,
        `DROP INDEX jobs_due`,
        // Whose turn it is: each account's last claim of a kind, as a counter claims count up.
        `CREATE TABLE job_turns (
          kind TEXT NOT NULL,
          account_id TEXT NOT NULL,
          turn ${d.bigint} NOT NULL,
          PRIMARY KEY (kind, account_id)
        )`,
      ];
    },
  },
  {
    version: 36,
    name: "the event outbox's account",
    sql: (d) => {
      // The outbox is claimed in turns between accounts too (one account's burst of events must not
      // hold back every other's), so a row carries its account: the part of its registry key
      // ("account:region") before the colon. Only that text column is read, never the body (an
      // event body may hold what PostgreSQL's JSON refuses, migration 35's finding).
      const colon = d.position("':'", 'registry_id');
      return [
        `ALTER TABLE event_outbox ADD COLUMN account_id TEXT NOT NULL DEFAULT ''`,
        `UPDATE event_outbox SET account_id = substr(registry_id, 1, ${colon} - 1) WHERE ${colon} > 0`,
        // A claim walks the accounts with rows (one index probe each) and takes each one's oldest.
        `CREATE INDEX event_outbox_account ON event_outbox (account_id, seq)`,
      ];
    },
  },
  {
    version: 37,
    name: 'scans read from layers a manifest only named',
    sql: (d) => {
      // Before session 36 a scan read every layer a manifest named, non-distributable ones too,
      // which a push need not upload: their digests could be another account's blobs, and their
      // packages became the image's findings. Such manifests' inventories and scans go: the image
      // is scanned again from the layers its repository holds. A plain text search of the stored
      // bytes for the two media types' distinctive parts (a manifest merely mentioning them loses
      // a scan it can run again).
      const names = `(${d.bytesContain('m.payload', 'nondistributable')} OR ${d.bytesContain('m.payload', 'foreign.diff')})`;
      return [
        `DELETE FROM package_inventories WHERE digest IN (SELECT m.digest FROM manifests m WHERE ${names})`,
        `DELETE FROM image_scans WHERE EXISTS (SELECT 1 FROM manifests m
           WHERE m.repository_id = image_scans.repository_id AND m.digest = image_scans.digest AND ${names})`,
      ];
    },
  },
  {
    version: 38,
    name: 'the last turn, found by index',
    // Every claim of either queue starts after the last turn recorded (max(turn) over job_turns),
    // which grows by a row per kind and account that ever had work: by index, that read is one
    // probe at any size instead of a scan of the table.
    sql: () => [`CREATE INDEX job_turns_turn ON job_turns (turn)`],
  },
];

/** The tables of IAM's named entities (migration 28 gives each a case-free name_key). */
export const IAM_NAMED_TABLES = ['users', 'roles', 'iam_groups', 'customer_policies'] as const;
