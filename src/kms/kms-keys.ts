/**
 * Customer KMS keys kept by Berth, for repositories whose encryptionConfiguration is KMS or
 * KMS_DSSE and for the KMS API (src/http/kms): created from the shell (`berth admin
 * create-kms-key`) or by CreateKey, named the ways KMS names them (key id, key ARN, alias, alias
 * ARN), given and relieved of an alias, enabled and disabled, and handed to the encrypting blob
 * store as WrappingKeys (or to the KMS API as a derived subkey, deriveKey). The material (32
 * random bytes per key) is stored sealed under the server key (key-material.ts) and only ever
 * held unsealed in this process's memory.
 *
 * Keys are read through a small cache: a key's state and material are reused for `ttlMs`, so a
 * `berth admin disable-kms-key` run beside running servers takes effect on them within that
 * time, while a disable through this object takes effect at once. Key material is never logged,
 * nor put in an error message; the fields holding it are #private, so no logger or inspect()
 * of this object can print them.
 */
import { createSecretKey, hkdfSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import type { WrappingKey, WrappingKeys } from '../blobstore/encrypted/wrapping-keys.js';
import type { Clock } from '../core/clock.js';
import { KmsCodes } from '../core/errors.js';
import type { KmsKeyRecord, KmsKeyState, KmsKeyStore } from '../metadata/types.js';
import { isAwsManaged } from './key-metadata.js';
import { materialSealingKey, MATERIAL_BYTES, openMaterial, sealMaterial } from './key-material.js';
import { aliasArn, checkAliasName, keyArn, keyIdBytes, parseKeyRef, uuidOf } from './key-refs.js';
import { aliasExists, aliasNotFound, disabled, keyNotFound, kmsError, kmsInvalid } from './kms-errors.js';
import { isKeyId, registryWrappingKey, UNKNOWN_KEY_MESSAGE } from './registry-key.js';

export { aliasArn, checkAliasName, keyArn, keyIdBytes } from './key-refs.js';

/** The alias of the key ECR uses for KMS repositories that name none (an AWS managed key). */
export const ECR_MANAGED_ALIAS = 'alias/aws/ecr';
const ECR_MANAGED_DESCRIPTION = 'Default key that protects my ECR data when no other key is defined';

/** KMS's limit on a key's description. */
const MAX_DESCRIPTION = 8192;

interface Entry {
  record: KmsKeyRecord;
  loadedAt: number;
  /** Unsealed on first use; material never changes, so it outlives reloads of the record. */
  material?: Buffer;
  /** The material as a KeyObject (a copy of its own), made on first use; outlives reloads as the material does. */
  keyObject?: KeyObject;
}

export class KmsKeys {
  readonly #store: KmsKeyStore;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #sealingKey: Buffer;
  readonly #registryKey: WrappingKey;
  /** By key id. */
  readonly #keys = new Map<string, Entry>();
  /**
   * Resolved references (account, region, ref) to key ids. An alias may move to another key
   * (DeleteAlias, then CreateAlias): a move through this object forgets them all, one made
   * elsewhere is seen within ttlMs, as KMS's own alias changes are eventually consistent.
   */
  readonly #refs = new Map<string, { id: string; loadedAt: number }>();
  /** Bumped by every write through this object: a load that overlapped one is not cached. */
  #generation = 0;

  constructor(store: KmsKeyStore, serverKey: Buffer, clock: Clock, opts: { ttlMs: number }) {
    this.#store = store;
    this.#clock = clock;
    this.#ttlMs = opts.ttlMs;
    this.#sealingKey = materialSealingKey(serverKey);
    this.#registryKey = registryWrappingKey(serverKey);
  }

  /** A new enabled customer key. Aliases follow KMS's rules; `alias/aws/` is reserved. */
  async create(accountId: string, region: string, opts: { alias?: string; description?: string } = {}): Promise<KmsKeyRecord> {
    if (opts.alias !== undefined) checkAliasName(opts.alias);
    if (opts.description !== undefined && opts.description.length > MAX_DESCRIPTION) {
      throw kmsInvalid(KmsCodes.Validation, `The description is invalid: at most ${MAX_DESCRIPTION} characters`);
    }
    const r = await this.#insert(accountId, region, opts.alias, opts.description ?? '');
    if (r.kind === 'aliasTaken') throw aliasExists(aliasArn(region, accountId, opts.alias!));
    return r.key;
  }

  /**
   * The account's AWS-managed-style key for ECR (`alias/aws/ecr`), created on first use. Two
   * nodes creating it at once end with one key: the alias is unique, and the loser takes the
   * winner's.
   */
  async ensureEcrManaged(accountId: string, region: string): Promise<KmsKeyRecord> {
    const cached = this.#cachedRef(accountId, region, ECR_MANAGED_ALIAS);
    const hit = cached && (await this.#entry(cached));
    if (hit) return hit.record;
    const generation = this.#generation;
    const found = (await this.#store.findByAlias(accountId, region, ECR_MANAGED_ALIAS)) ?? (await this.#ensure(accountId, region));
    this.#remember(accountId, region, ECR_MANAGED_ALIAS, found, generation);
    return found;
  }

  async #ensure(accountId: string, region: string): Promise<KmsKeyRecord> {
    const r = await this.#insert(accountId, region, ECR_MANAGED_ALIAS, ECR_MANAGED_DESCRIPTION);
    return r.kind === 'created' ? r.key : r.existing;
  }

  async #insert(accountId: string, region: string, alias: string | undefined, description: string) {
    const id = randomUUID();
    const material = randomBytes(MATERIAL_BYTES);
    const r = await this.#store.create({
      id,
      accountId,
      region,
      arn: keyArn(region, accountId, id),
      ...(alias !== undefined && { alias }),
      description,
      state: 'Enabled',
      origin: 'BERTH',
      sealedMaterial: sealMaterial(material, this.#sealingKey, id),
      now: this.#clock.now(),
    });
    if (r.kind === 'created') this.#keys.set(id, { record: r.key, loadedAt: this.#nowMs(), material });
    else material.fill(0);
    return r;
  }

  /**
   * The enabled key `kmsKey` names in this account and region, named as ECR accepts it: a key id,
   * a key ARN, an alias name (`alias/x`) or an alias ARN. Another account's or region's key is
   * not found. Rejects with KmsException, in KMS's words, when not found or disabled.
   */
  async resolve(accountId: string, region: string, kmsKey: string): Promise<KmsKeyRecord> {
    const key = await this.describe(accountId, region, kmsKey);
    if (key.state !== 'Enabled') throw disabled(key);
    return key;
  }

  /**
   * The key `keyRef` names (as resolve() accepts), whatever its state. Naming `alias/aws/ecr`
   * creates that key if the account has none yet, as AWS creates its managed keys on first use.
   */
  async describe(accountId: string, region: string, keyRef: string): Promise<KmsKeyRecord> {
    const cached = this.#cachedRef(accountId, region, keyRef);
    const hit = cached && (await this.#entry(cached));
    if (hit) return hit.record;
    const ref = parseKeyRef(accountId, region, keyRef);
    if (ref.kind === 'alias' && ref.alias === ECR_MANAGED_ALIAS) return this.ensureEcrManaged(accountId, region);
    const generation = this.#generation;
    const key = await this.#lookup(accountId, region, keyRef);
    this.#remember(accountId, region, keyRef, key, generation);
    return key;
  }

  /** The customer keys (and the ECR managed key) of an account and region, oldest first. */
  async list(accountId: string, region: string): Promise<KmsKeyRecord[]> {
    return this.#store.list({ accountId, region });
  }

  async enable(accountId: string, region: string, keyRef: string): Promise<KmsKeyRecord> {
    return this.#setState(accountId, region, keyRef, 'Enabled');
  }

  /** Blobs sealed under a disabled key can be neither written nor read until it is enabled again. */
  async disable(accountId: string, region: string, keyRef: string): Promise<KmsKeyRecord> {
    return this.#setState(accountId, region, keyRef, 'Disabled');
  }

  async #setState(accountId: string, region: string, keyRef: string, state: KmsKeyState): Promise<KmsKeyRecord> {
    // Read fresh, not from the cache: the reference must name a key now.
    const key = await this.#lookup(accountId, region, keyRef);
    // KMS refuses this for AWS managed keys: their key policy grants no one kms:DisableKey.
    if (isAwsManaged(key))
      throw kmsInvalid(KmsCodes.AccessDenied, `${key.arn} is an AWS managed key: it cannot be ${state === 'Enabled' ? 'enabled' : 'disabled'}`);
    if (!(await this.#store.setState(key.id, state))) throw keyNotFound(key.arn);
    return this.#updated({ ...key, state });
  }

  /**
   * Points a new alias at the key `targetRef` names. Berth keeps one alias per key (the
   * metadata's alias column), so a key that has one refuses another with
   * LimitExceededException, where KMS would allow up to 50; DeleteAlias frees it.
   */
  async createAlias(accountId: string, region: string, alias: string, targetRef: string): Promise<KmsKeyRecord> {
    checkAliasName(alias);
    const key = await this.#lookup(accountId, region, targetRef);
    const r = await this.#store.setAlias(key.id, alias);
    if (r === 'notFound') throw keyNotFound(key.arn);
    if (r === 'aliasTaken') throw aliasExists(aliasArn(region, accountId, alias));
    if (r === 'hasAlias') {
      throw kmsError(KmsCodes.LimitExceeded, `${key.arn} already has an alias: Berth keeps one alias per key; delete it (DeleteAlias) before creating another`);
    }
    this.#refs.clear();
    return this.#updated({ ...key, alias });
  }

  /** Removes an alias; the key it named stays. Aliases under `alias/aws/` are the service's. */
  async deleteAlias(accountId: string, region: string, alias: string): Promise<void> {
    checkAliasName(alias);
    const key = await this.#lookup(accountId, region, alias);
    if (!(await this.#store.deleteAlias(accountId, region, alias))) throw aliasNotFound(aliasArn(region, accountId, alias));
    this.#refs.clear();
    const { alias: _gone, ...rest } = key;
    this.#updated(rest);
  }

  /** Records a change made through this object, at once. */
  #updated(record: KmsKeyRecord): KmsKeyRecord {
    this.#generation++;
    const held = this.#keys.get(record.id);
    this.#keys.set(record.id, {
      record,
      loadedAt: this.#nowMs(),
      ...(held?.material && { material: held.material, ...(held.keyObject && { keyObject: held.keyObject }) }),
    });
    return record;
  }

  /**
   * A key derived from a Berth key's material (HKDF-SHA256, `info` naming the use), for uses
   * other than wrapping blob data keys, so that no two uses ever share a key. Rejects while the
   * key is disabled. The material itself never leaves this object.
   */
  async deriveKey(key: KmsKeyRecord, info: string): Promise<Buffer> {
    if (key.origin !== 'BERTH') throw kmsError(KmsCodes.InvalidState, `${key.arn} is not a key Berth holds`);
    const entry = await this.#entry(key.id);
    if (!entry) throw keyNotFound(key.arn);
    const { key: material } = this.#usable(entry);
    try {
      return Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), info, 32));
    } finally {
      material.fill(0);
    }
  }

  /** The key whose ARN (as stored, any account) is `arn`, whatever its state. */
  async findByArn(arn: string): Promise<KmsKeyRecord | undefined> {
    return this.#store.findByArn(arn);
  }

  /**
   * Records a key of the object store's KMS (kmsProvider 's3'), so that its blob store is known;
   * idempotent. Returns the row holding `keyRef`, which is another origin's if one holds it.
   */
  async recordExternal(accountId: string, region: string, keyRef: string): Promise<KmsKeyRecord> {
    return this.#store.recordExternal(accountId, region, keyRef, this.#clock.now());
  }

  /** The EXTERNAL key recorded under `keyRef`. */
  async findExternal(keyRef: string): Promise<KmsKeyRecord | undefined> {
    const key = await this.#store.findByArn(keyRef);
    return key?.origin === 'EXTERNAL' ? key : undefined;
  }

  /** Every key of every origin, account and region (each has a blob store the collector visits). */
  async listAll(): Promise<KmsKeyRecord[]> {
    return this.#store.listAll();
  }

  /**
   * What a repository under `key` seals and opens blobs with: current() is `key` (rejecting with
   * KmsException while it is disabled); byId() opens a blob sealed under any Berth key or the
   * registry key, rejecting while its KMS key is disabled.
   */
  wrappingKeysFor(key: KmsKeyRecord): WrappingKeys {
    return {
      current: async () => {
        if (key.origin !== 'BERTH') throw kmsError(KmsCodes.InvalidState, `${key.arn} is not a key Berth holds`);
        const entry = await this.#entry(key.id);
        if (!entry) throw keyNotFound(key.arn);
        return this.#usable(entry);
      },
      byId: (id) => this.#byId(id),
    };
  }

  /** For readers that do not know the repository: new blobs go under the registry key; any known key opens. */
  anyKey(): WrappingKeys {
    return {
      current: async () => this.#registryKey,
      byId: (id) => this.#byId(id),
    };
  }

  async #byId(id: Buffer): Promise<WrappingKey> {
    if (isKeyId(this.#registryKey, id)) return this.#registryKey;
    if (id.length !== 16) throw new Error(UNKNOWN_KEY_MESSAGE);
    const entry = await this.#entry(uuidOf(id));
    if (entry?.record.origin !== 'BERTH') throw new Error(UNKNOWN_KEY_MESSAGE);
    return this.#usable(entry);
  }

  #usable(entry: Entry): WrappingKey {
    const { record } = entry;
    if (record.state !== 'Enabled') throw disabled(record);
    if (!entry.material) {
      try {
        entry.material = openMaterial(record.sealedMaterial ?? '', this.#sealingKey, record.id);
      } catch {
        throw kmsError(KmsCodes.InvalidState, `The key material of ${record.arn} cannot be opened: it was sealed under another server key, or altered`);
      }
    }
    // A copy: a caller that wipes its key after use must not wipe the cache's. The KeyObject
    // holds its own copy, and is handed out as is (it cannot be wiped or changed through it).
    entry.keyObject ??= createSecretKey(entry.material);
    return { id: keyIdBytes(record.id), key: Buffer.from(entry.material), keyObject: entry.keyObject };
  }

  /** The key's cache entry, reloaded once older than ttlMs; undefined when there is no such key. */
  async #entry(id: string): Promise<Entry | undefined> {
    const now = this.#nowMs();
    const hit = this.#keys.get(id);
    if (hit && now - hit.loadedAt < this.#ttlMs) return hit;
    const generation = this.#generation;
    const record = await this.#store.get(id);
    if (!record) return undefined;
    const entry: Entry = { record, loadedAt: now, ...(hit?.material && { material: hit.material, ...(hit.keyObject && { keyObject: hit.keyObject }) }) };
    if (this.#ttlMs > 0 && generation === this.#generation) this.#keys.set(id, entry);
    return entry;
  }

  async #lookup(accountId: string, region: string, keyRef: string): Promise<KmsKeyRecord> {
    const mine = (k: KmsKeyRecord | undefined) => (k && k.origin === 'BERTH' && k.accountId === accountId && k.region === region ? k : undefined);
    const ref = parseKeyRef(accountId, region, keyRef);
    if (ref.kind === 'alias') {
      const found = ref.alias === undefined ? undefined : mine(await this.#store.findByAlias(accountId, region, ref.alias));
      if (!found) throw aliasNotFound(ref.shown);
      return found;
    }
    const found = ref.id === undefined ? undefined : mine(await this.#store.get(ref.id));
    if (!found) throw keyNotFound(ref.shown);
    return found;
  }

  #cachedRef(accountId: string, region: string, ref: string): string | undefined {
    const hit = this.#refs.get(refKey(accountId, region, ref));
    return hit && this.#nowMs() - hit.loadedAt < this.#ttlMs ? hit.id : undefined;
  }

  /** `generation` is the one before the lookup: a write through this object since may have moved the reference. */
  #remember(accountId: string, region: string, ref: string, key: KmsKeyRecord, generation: number): void {
    if (this.#ttlMs <= 0 || generation !== this.#generation) return;
    // Bounded: references are few, but they come from requests; start over rather than grow.
    if (this.#refs.size >= 10_000) this.#refs.clear();
    this.#refs.set(refKey(accountId, region, ref), { id: key.id, loadedAt: this.#nowMs() });
  }

  #nowMs(): number {
    return this.#clock.now().getTime();
  }
}

const refKey = (accountId: string, region: string, ref: string) => `${accountId}\n${region}\n${ref}`;
