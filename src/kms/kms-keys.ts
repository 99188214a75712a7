/**
 * Customer KMS keys kept by Berth, for repositories whose encryptionConfiguration is KMS or
 * KMS_DSSE: created from the shell (`berth admin create-kms-key`), named the ways KMS names
 * them (key id, key ARN, alias, alias ARN), enabled and disabled, and handed to the encrypting
 * blob store as WrappingKeys. The material (32 random bytes per key) is stored sealed under the
 * server key (key-material.ts) and only ever held unsealed in this process's memory.
 *
 * Keys are read through a small cache: a key's state and material are reused for `ttlMs`, so a
 * `berth admin disable-kms-key` run beside running servers takes effect on them within that
 * time, while a disable through this object takes effect at once. Key material is never logged,
 * nor put in an error message; the fields holding it are #private, so no logger or inspect()
 * of this object can print them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { WrappingKey, WrappingKeys } from '../blobstore/encrypted/wrapping-keys.js';
import type { Clock } from '../core/clock.js';
import { Codes, RegistryError } from '../core/errors.js';
import type { KmsKeyRecord, KmsKeyState, KmsKeyStore } from '../metadata/types.js';
import { AWS_ALIAS_PREFIX, isAwsManaged } from './key-metadata.js';
import { materialSealingKey, MATERIAL_BYTES, openMaterial, sealMaterial } from './key-material.js';
import { isKeyId, registryWrappingKey, UNKNOWN_KEY_MESSAGE } from './registry-key.js';

/** The alias of the key ECR uses for KMS repositories that name none (an AWS managed key). */
export const ECR_MANAGED_ALIAS = 'alias/aws/ecr';
const ECR_MANAGED_DESCRIPTION = 'Default key that protects my ECR data when no other key is defined';

const ALIAS_RE = /^alias\/[A-Za-z0-9/_-]{1,250}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KMS_ARN_RE = /^arn:aws:kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/;
/** KMS's limit on a key's description. */
const MAX_DESCRIPTION = 8192;

export const keyArn = (region: string, accountId: string, id: string): string => `arn:aws:kms:${region}:${accountId}:key/${id}`;
export const aliasArn = (region: string, accountId: string, alias: string): string => `arn:aws:kms:${region}:${accountId}:${alias}`;

/** The 16 bytes that name a key in blob headers: its UUID's own bytes. */
export function keyIdBytes(id: string): Buffer {
  return Buffer.from(id.replace(/-/g, ''), 'hex');
}

function uuidOf(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const kmsError = (message: string) => new RegistryError(Codes.KmsException, message);
const invalid = (message: string) => new RegistryError(Codes.InvalidParameter, message);
// KMS's own wording (NotFoundException, DisabledException), which ECR passes on.
const keyNotFound = (arn: string) => kmsError(`Key '${arn}' does not exist`);
const aliasNotFound = (arn: string) => kmsError(`Alias '${arn}' is not found.`);
const disabled = (key: KmsKeyRecord) => kmsError(`${key.arn} is disabled.`);

interface Entry {
  record: KmsKeyRecord;
  loadedAt: number;
  /** Unsealed on first use; material never changes, so it outlives reloads of the record. */
  material?: Buffer;
}

export class KmsKeys {
  readonly #store: KmsKeyStore;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #sealingKey: Buffer;
  readonly #registryKey: WrappingKey;
  /** By key id. */
  readonly #keys = new Map<string, Entry>();
  /** Resolved references (account, region, ref) to key ids; references never move to another key. */
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
    if (opts.alias !== undefined) {
      if (!ALIAS_RE.test(opts.alias)) {
        throw invalid(`Alias '${opts.alias}' is invalid: an alias name is alias/ followed by 1 to 250 of A-Z a-z 0-9 / _ -`);
      }
      if (opts.alias.toLowerCase().startsWith(AWS_ALIAS_PREFIX)) throw invalid(`Alias '${opts.alias}' is invalid: ${AWS_ALIAS_PREFIX} is reserved for AWS managed keys`);
    }
    if (opts.description !== undefined && opts.description.length > MAX_DESCRIPTION) {
      throw invalid(`The description is invalid: at most ${MAX_DESCRIPTION} characters`);
    }
    const r = await this.#insert(accountId, region, opts.alias, opts.description ?? '');
    if (r.kind === 'aliasTaken') throw kmsError(`An alias with the name ${aliasArn(region, accountId, opts.alias!)} already exists`);
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
    const found = (await this.#store.findByAlias(accountId, region, ECR_MANAGED_ALIAS)) ?? (await this.#ensure(accountId, region));
    this.#remember(accountId, region, ECR_MANAGED_ALIAS, found);
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

  /** The key `keyRef` names (as resolve() accepts), whatever its state. */
  async describe(accountId: string, region: string, keyRef: string): Promise<KmsKeyRecord> {
    const cached = this.#cachedRef(accountId, region, keyRef);
    const hit = cached && (await this.#entry(cached));
    if (hit) return hit.record;
    const key = await this.#lookup(accountId, region, keyRef);
    this.#remember(accountId, region, keyRef, key);
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
    if (isAwsManaged(key)) throw invalid(`${key.arn} is an AWS managed key: it cannot be ${state === 'Enabled' ? 'enabled' : 'disabled'}`);
    if (!(await this.#store.setState(key.id, state))) throw keyNotFound(key.arn);
    this.#generation++;
    const updated: KmsKeyRecord = { ...key, state };
    const material = this.#keys.get(key.id)?.material;
    this.#keys.set(key.id, { record: updated, loadedAt: this.#nowMs(), ...(material && { material }) });
    return updated;
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
        if (key.origin !== 'BERTH') throw kmsError(`${key.arn} is not a key Berth holds`);
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
    if (!entry || entry.record.origin !== 'BERTH') throw new Error(UNKNOWN_KEY_MESSAGE);
    return this.#usable(entry);
  }

  #usable(entry: Entry): WrappingKey {
    const { record } = entry;
    if (record.state !== 'Enabled') throw disabled(record);
    if (!entry.material) {
      try {
        entry.material = openMaterial(record.sealedMaterial ?? '', this.#sealingKey, record.id);
      } catch {
        throw kmsError(`The key material of ${record.arn} cannot be opened: it was sealed under another server key, or altered`);
      }
    }
    // A copy: a caller that wipes its key after use must not wipe the cache's.
    return { id: keyIdBytes(record.id), key: Buffer.from(entry.material) };
  }

  /** The key's cache entry, reloaded once older than ttlMs; undefined when there is no such key. */
  async #entry(id: string): Promise<Entry | undefined> {
    const now = this.#nowMs();
    const hit = this.#keys.get(id);
    if (hit && now - hit.loadedAt < this.#ttlMs) return hit;
    const generation = this.#generation;
    const record = await this.#store.get(id);
    if (!record) return undefined;
    const entry: Entry = { record, loadedAt: now, ...(hit?.material && { material: hit.material }) };
    if (this.#ttlMs > 0 && generation === this.#generation) this.#keys.set(id, entry);
    return entry;
  }

  async #lookup(accountId: string, region: string, ref: string): Promise<KmsKeyRecord> {
    const mine = (k: KmsKeyRecord | undefined) => (k && k.origin === 'BERTH' && k.accountId === accountId && k.region === region ? k : undefined);
    if (UUID_RE.test(ref)) {
      const found = mine(await this.#store.get(ref.toLowerCase()));
      if (!found) throw keyNotFound(keyArn(region, accountId, ref));
      return found;
    }
    if (ref.startsWith('alias/')) {
      const found = mine(await this.#store.findByAlias(accountId, region, ref));
      if (!found) throw aliasNotFound(aliasArn(region, accountId, ref));
      return found;
    }
    const m = KMS_ARN_RE.exec(ref);
    if (!m) throw keyNotFound(ref);
    const [, arnRegion, arnAccount, kind, name] = m as unknown as [string, string, string, 'key' | 'alias', string];
    const here = arnRegion === region && arnAccount === accountId;
    if (kind === 'alias') {
      const found = here ? mine(await this.#store.findByAlias(accountId, region, `alias/${name}`)) : undefined;
      if (!found) throw aliasNotFound(ref);
      return found;
    }
    const found = here && UUID_RE.test(name) ? mine(await this.#store.get(name.toLowerCase())) : undefined;
    if (!found) throw keyNotFound(ref);
    return found;
  }

  #cachedRef(accountId: string, region: string, ref: string): string | undefined {
    const hit = this.#refs.get(refKey(accountId, region, ref));
    return hit && this.#nowMs() - hit.loadedAt < this.#ttlMs ? hit.id : undefined;
  }

  #remember(accountId: string, region: string, ref: string, key: KmsKeyRecord): void {
    if (this.#ttlMs <= 0) return;
    // Bounded: references are few, but they come from requests; start over rather than grow.
    if (this.#refs.size >= 10_000) this.#refs.clear();
    this.#refs.set(refKey(accountId, region, ref), { id: key.id, loadedAt: this.#nowMs() });
  }

  #nowMs(): number {
    return this.#clock.now().getTime();
  }
}

const refKey = (accountId: string, region: string, ref: string) => `${accountId}\n${region}\n${ref}`;
