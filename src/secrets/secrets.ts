/**
 * Secrets Manager's core, as `aws secretsmanager` manages it: secrets by name in an account and
 * region, each with its current value (stage AWSCURRENT) and the one before (AWSPREVIOUS), tags,
 * and deletion after a recovery window. Values are sealed under the server key before they are
 * stored and are returned only by GetSecretValue (and to Berth's own features through
 * `currentValue`, e.g. a pull-through cache rule's upstream credentials). Berth keeps no older
 * versions than AWSPREVIOUS, no rotation, no replicas, no resource policies.
 */
import { registryKey, type RegistryKey } from '../core/registry-key.js';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { SecretsCodes } from '../core/errors.js';
import type { DocumentRecord, DocumentStore } from '../metadata/documents.js';
import { secretsError } from './errors.js';

/** Seals and opens values at rest (the composition root's, under the server key). */
export interface SecretSealer {
  seal(plain: string): string;
  open(sealed: string): string;
}

export interface SecretsScope {
  accountId: string;
  region: string;
}

export interface SecretTag {
  Key: string;
  Value: string;
}

interface SecretVersion {
  id: string;
  stages: string[];
  created: number;
  /** The sealed value: a string, or base64 of binary when `binary`. */
  sealed: string;
  binary: boolean;
}

export interface SecretDoc {
  Name: string;
  ARN: string;
  Description?: string;
  KmsKeyId?: string;
  /** The partner that holds a managed external secret (CreateSecret's Type, or UpdateSecret's on a secret with none); never changed once set. */
  Type?: string;
  Tags: SecretTag[];
  created: number;
  changed: number;
  accessed?: number;
  /** When DeleteSecret was called; set while the secret awaits deletion. */
  deletedAt?: number;
  /** When it is gone for good. */
  deletionAt?: number;
  versions: SecretVersion[];
}

export interface SecretValue {
  ARN: string;
  Name: string;
  VersionId: string;
  VersionStages: string[];
  CreatedDate: Date;
  SecretString?: string;
  /** base64, as the wire carries it. */
  SecretBinary?: string;
}

/** A value given to CreateSecret or PutSecretValue: one of the two. */
export type NewValue = { string: string } | { binary: string };

const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';
const DAY_MS = 86_400_000;
const KIND = 'secret';
/**
 * The Type UpdateSecret gives a secret, if any. A secret with none takes one (Secrets Manager's
 * guide migrates an existing secret to a managed external secret with UpdateSecret). Once a
 * secret has a Type it keeps it, as nothing documents a move from one partner to another:
 * secretsmanager:resource/Type names its partner for good, and the request's secretsmanager:Type
 * judges the Type a secret is given. Naming its own Type, or an empty one on a secret with none,
 * changes nothing.
 */
function typeChange(doc: SecretDoc, asked: string | undefined): string | undefined {
  const type = asked === '' ? undefined : asked;
  if (asked === undefined || type === doc.Type) return undefined;
  if (doc.Type !== undefined)
    throw secretsError(
      SecretsCodes.InvalidParameter,
      'A secret\u2019s Type can\u2019t be changed once it has one: create a new secret with the Type you want.',
    );
  return type;
}

const notFound = () => secretsError(SecretsCodes.ResourceNotFound, "Secrets Manager can't find the specified secret.");
const markedForDeletion = () => secretsError(SecretsCodes.InvalidRequest, "You can't perform this operation on the secret because it was marked for deletion.");

const registryOf = (s: SecretsScope): RegistryKey => registryKey(s.accountId, s.region);
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Six random letters and digits, as Secrets Manager ends every secret's ARN. */
function arnSuffix(): string {
  return [...randomBytes(6)].map((b) => ALPHANUMERIC[b % ALPHANUMERIC.length]).join('');
}

export function secretArnPrefix(scope: SecretsScope): string {
  return `arn:aws:secretsmanager:${scope.region}:${scope.accountId}:secret:`;
}

export class SecretsService {
  constructor(
    private readonly store: DocumentStore,
    private readonly clock: Clock,
    private readonly sealer: SecretSealer,
  ) {}

  /** The ARN a new secret of this name gets (what CreateSecret authorizes on). */
  newArn(scope: SecretsScope, name: string): string {
    return `${secretArnPrefix(scope)}${name}-${arnSuffix()}`;
  }

  async create(
    scope: SecretsScope,
    input: { name: string; arn: string; description?: string; kmsKeyId?: string; type?: string; tags: SecretTag[]; value?: NewValue; versionId?: string },
  ): Promise<{ ARN: string; Name: string; VersionId?: string }> {
    const existing = await this.find(scope, input.name, true);
    if (existing?.doc.deletedAt !== undefined) {
      throw secretsError(SecretsCodes.InvalidRequest, "You can't create this secret because a secret with this name is already scheduled for deletion.");
    }
    if (existing) throw secretsError(SecretsCodes.ResourceExists, `The operation failed because the secret ${input.name} already exists.`);
    const now = this.clock.now().getTime();
    const versions = input.value ? [this.version(input.value, input.versionId ?? randomUUID(), [CURRENT], now)] : [];
    const doc: SecretDoc = {
      Name: input.name,
      ARN: input.arn,
      ...(input.description !== undefined && { Description: input.description }),
      ...(input.kmsKeyId !== undefined && { KmsKeyId: input.kmsKeyId }),
      ...(input.type !== undefined && { Type: input.type }),
      Tags: input.tags,
      created: now,
      changed: now,
      versions,
    };
    if (!(await this.store.create({ registryKey: registryOf(scope), kind: KIND, name: input.name, document: JSON.stringify(doc), now: new Date(now) }))) {
      throw secretsError(SecretsCodes.ResourceExists, `The operation failed because the secret ${input.name} already exists.`);
    }
    return { ARN: doc.ARN, Name: doc.Name, ...(versions[0] && { VersionId: versions[0].id }) };
  }

  /**
   * The value of the version `select` names. `mayOpen` is asked first, with the secret and the
   * version (the caller's use of the secret's KMS key): a refusal reads and records nothing.
   */
  async getValue(
    scope: SecretsScope,
    secretId: string,
    select: { versionId?: string; stage?: string },
    mayOpen: (doc: SecretDoc, versionId: string) => Promise<void> = async () => {},
  ): Promise<SecretValue> {
    const found = await this.live(scope, secretId);
    const stage = select.versionId === undefined ? (select.stage ?? CURRENT) : select.stage;
    const v = found.doc.versions.find(
      (x) => (select.versionId === undefined || x.id === select.versionId) && (stage === undefined || x.stages.includes(stage)),
    );
    if (!v) throw secretsError(SecretsCodes.ResourceNotFound, "Secrets Manager can't find the specified secret value for staging label: " + (stage ?? CURRENT));
    await mayOpen(found.doc, v.id);
    await this.touch(scope, found);
    const plain = this.sealer.open(v.sealed);
    return {
      ARN: found.doc.ARN,
      Name: found.doc.Name,
      VersionId: v.id,
      VersionStages: v.stages,
      CreatedDate: new Date(v.created),
      ...(v.binary ? { SecretBinary: plain } : { SecretString: plain }),
    };
  }

  /** A new current value; the old current one becomes AWSPREVIOUS, older ones go. */
  async putValue(
    scope: SecretsScope,
    secretId: string,
    value: NewValue,
    versionId: string | undefined,
  ): Promise<{ ARN: string; Name: string; VersionId: string; VersionStages: string[] }> {
    for (;;) {
      const found = await this.live(scope, secretId);
      const next = this.withValue(found.doc, value, versionId);
      if ('retried' in next) return { ARN: found.doc.ARN, Name: found.doc.Name, VersionId: next.retried.id, VersionStages: next.retried.stages };
      const doc: SecretDoc = { ...found.doc, versions: next.versions, changed: this.clock.now().getTime() };
      if (await this.save(scope, doc, found.record.document)) return { ARN: doc.ARN, Name: doc.Name, VersionId: next.id, VersionStages: [CURRENT] };
    }
  }

  /**
   * UpdateSecret: a new description and KMS key (kept and shown, as CreateSecret's), and with a
   * value a new current version as PutSecretValue makes it; all in one write, or none. A call
   * that changes nothing writes nothing.
   */
  async update(
    scope: SecretsScope,
    secretId: string,
    changes: { description?: string; kmsKeyId?: string; value?: NewValue; versionId?: string; type?: string },
  ): Promise<{ ARN: string; Name: string; VersionId?: string }> {
    for (;;) {
      const found = await this.live(scope, secretId);
      const next = changes.value && this.withValue(found.doc, changes.value, changes.versionId);
      if (next && 'retried' in next) return { ARN: found.doc.ARN, Name: found.doc.Name, VersionId: next.retried.id };
      const type = typeChange(found.doc, changes.type);
      if (!next && changes.description === undefined && changes.kmsKeyId === undefined && type === undefined)
        return { ARN: found.doc.ARN, Name: found.doc.Name };
      const doc: SecretDoc = {
        ...found.doc,
        ...(type !== undefined && { Type: type }),
        ...(changes.description !== undefined && { Description: changes.description }),
        ...(changes.kmsKeyId !== undefined && { KmsKeyId: changes.kmsKeyId }),
        ...(next && { versions: next.versions }),
        changed: this.clock.now().getTime(),
      };
      if (await this.save(scope, doc, found.record.document)) return { ARN: doc.ARN, Name: doc.Name, ...(next && { VersionId: next.id }) };
    }
  }

  async describe(scope: SecretsScope, secretId: string): Promise<SecretDoc> {
    const found = await this.find(scope, secretId, false);
    if (!found) throw notFound();
    return found.doc;
  }

  /** In name order; `after` is the last name of the previous page. Secrets awaiting deletion only with `includeDeleted`. */
  async list(
    scope: SecretsScope,
    opts: { limit: number; after?: string; includeDeleted: boolean; match: (doc: SecretDoc) => boolean },
  ): Promise<{ items: SecretDoc[]; last?: string }> {
    const items: SecretDoc[] = [];
    let after = opts.after;
    // Filters apply after reading: read on in pages until the page is full or the names run out.
    for (;;) {
      const page = await this.store.list(registryOf(scope), KIND, { limit: 100, ...(after !== undefined && { after }) });
      for (const r of page) {
        after = r.name;
        const doc = await this.purgeIfDue(scope, r);
        if (!doc || (doc.deletedAt !== undefined && !opts.includeDeleted) || !opts.match(doc)) continue;
        items.push(doc);
        if (items.length === opts.limit) return { items, last: r.name };
      }
      if (page.length < 100) return { items };
    }
  }

  /** Schedules deletion after `recoveryDays`, or deletes now when `force`. */
  async delete(
    scope: SecretsScope,
    secretId: string,
    opts: { recoveryDays?: number; force: boolean },
  ): Promise<{ ARN: string; Name: string; DeletionDate: Date }> {
    for (;;) {
      const found = await this.find(scope, secretId, false);
      if (!found) throw notFound();
      const now = this.clock.now().getTime();
      if (opts.force) {
        await this.store.delete(registryOf(scope), KIND, found.doc.Name);
        return { ARN: found.doc.ARN, Name: found.doc.Name, DeletionDate: new Date(now) };
      }
      if (found.doc.deletedAt !== undefined) throw markedForDeletion();
      const doc: SecretDoc = { ...found.doc, deletedAt: now, deletionAt: now + (opts.recoveryDays ?? 30) * DAY_MS };
      if (await this.save(scope, doc, found.record.document)) return { ARN: doc.ARN, Name: doc.Name, DeletionDate: new Date(doc.deletionAt!) };
    }
  }

  async tag(scope: SecretsScope, secretId: string, tags: SecretTag[]): Promise<void> {
    await this.rewrite(scope, secretId, (doc) => {
      const next = new Map(doc.Tags.map((t) => [t.Key, t.Value]));
      for (const t of tags) next.set(t.Key, t.Value);
      if (next.size > 50) throw secretsError(SecretsCodes.InvalidParameter, 'A secret can have at most 50 tags.');
      return { ...doc, Tags: [...next].map(([Key, Value]) => ({ Key, Value })) };
    });
  }

  async untag(scope: SecretsScope, secretId: string, keys: string[]): Promise<void> {
    const drop = new Set(keys);
    await this.rewrite(scope, secretId, (doc) => ({ ...doc, Tags: doc.Tags.filter((t) => !drop.has(t.Key)) }));
  }

  /**
   * The current value of a secret named by its full ARN, for Berth's own use (a pull-through
   * cache rule's upstream credentials): undefined when there is no such secret, or it awaits
   * deletion, or has no value.
   */
  async currentValue(scope: SecretsScope, arn: string): Promise<{ found: false } | { found: true; value?: string }> {
    const found = await this.find(scope, arn, false);
    if (!found || found.doc.ARN !== arn || found.doc.deletedAt !== undefined) return { found: false };
    const v = found.doc.versions.find((x) => x.stages.includes(CURRENT));
    if (!v) return { found: true };
    return { found: true, value: v.binary ? Buffer.from(this.sealer.open(v.sealed), 'base64').toString('utf8') : this.sealer.open(v.sealed) };
  }

  /**
   * The versions with `value` current under `versionId` (a new UUID when unset): the old current
   * one becomes AWSPREVIOUS, older ones go. A retried request (a token already used, with the same
   * value) is `retried`, its version unchanged; the token with another value is refused.
   */
  private withValue(doc: SecretDoc, value: NewValue, versionId: string | undefined): { retried: SecretVersion } | { versions: SecretVersion[]; id: string } {
    const id = versionId ?? randomUUID();
    const same = doc.versions.find((v) => v.id === id);
    if (same) {
      if (this.sealer.open(same.sealed) === ('string' in value ? value.string : value.binary) && same.binary === 'binary' in value) return { retried: same };
      throw secretsError(SecretsCodes.ResourceExists, 'You can’t modify an existing version, you can only create a new version.');
    }
    const current = doc.versions.find((v) => v.stages.includes(CURRENT));
    const versions = [this.version(value, id, [CURRENT], this.clock.now().getTime()), ...(current ? [{ ...current, stages: [PREVIOUS] }] : [])];
    return { versions, id };
  }

  private version(value: NewValue, id: string, stages: string[], now: number): SecretVersion {
    const binary = 'binary' in value;
    return { id, stages, created: now, binary, sealed: this.sealer.seal(binary ? value.binary : value.string) };
  }

  private async rewrite(scope: SecretsScope, secretId: string, change: (doc: SecretDoc) => SecretDoc): Promise<void> {
    for (;;) {
      const found = await this.live(scope, secretId);
      if (await this.save(scope, change(found.doc), found.record.document)) return;
    }
  }

  private async save(scope: SecretsScope, doc: SecretDoc, previous: string): Promise<boolean> {
    return this.store.replace({ registryKey: registryOf(scope), kind: KIND, name: doc.Name, document: JSON.stringify(doc), now: this.clock.now() }, previous);
  }

  /** Records the day of the last read (LastAccessedDate is a date in Secrets Manager), at most once a day. */
  private async touch(scope: SecretsScope, found: { doc: SecretDoc; record: DocumentRecord }): Promise<void> {
    const today = Math.floor(this.clock.now().getTime() / DAY_MS) * DAY_MS;
    if (found.doc.accessed === today) return;
    // Best effort: a concurrent change wins and the date is written at the next read.
    await this.save(scope, { ...found.doc, accessed: today }, found.record.document);
  }

  private async live(scope: SecretsScope, secretId: string): Promise<{ doc: SecretDoc; record: DocumentRecord }> {
    const found = await this.find(scope, secretId, false);
    if (!found) throw notFound();
    if (found.doc.deletedAt !== undefined) throw markedForDeletion();
    return found;
  }

  /**
   * A secret by name, by full ARN, or by ARN without its random suffix. With `byNameOnly` the
   * id is a name (CreateSecret's).
   */
  private async find(scope: SecretsScope, secretId: string, byNameOnly: boolean): Promise<{ doc: SecretDoc; record: DocumentRecord } | undefined> {
    const prefix = secretArnPrefix(scope);
    if (byNameOnly || !secretId.startsWith('arn:')) return this.load(scope, secretId);
    if (!secretId.startsWith(prefix)) return undefined;
    const rest = secretId.slice(prefix.length);
    // A full ARN ends in -XXXXXX; a partial one is the name itself.
    const exact = await this.load(scope, rest);
    if (exact) return exact;
    const m = /^(.+)-[A-Za-z0-9]{6}$/.exec(rest);
    if (!m) return undefined;
    const found = await this.load(scope, m[1]!);
    return found && found.doc.ARN === secretId ? found : undefined;
  }

  private async load(scope: SecretsScope, name: string): Promise<{ doc: SecretDoc; record: DocumentRecord } | undefined> {
    const record = await this.store.get(registryOf(scope), KIND, name);
    if (!record) return undefined;
    const doc = await this.purgeIfDue(scope, record);
    return doc && { doc, record };
  }

  /** A secret whose recovery window ended is gone: deleted when next seen. */
  private async purgeIfDue(scope: SecretsScope, record: DocumentRecord): Promise<SecretDoc | undefined> {
    const doc = JSON.parse(record.document) as SecretDoc;
    if (doc.deletionAt !== undefined && doc.deletionAt <= this.clock.now().getTime()) {
      await this.store.delete(registryOf(scope), KIND, record.name);
      return undefined;
    }
    return doc;
  }
}
