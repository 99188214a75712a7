/**
 * Repository keys held by an AWS KMS endpoint (kmsProvider 'aws'). Berth never sees such a key;
 * for each one it asks the KMS once for a data key, keeps only the KMS-sealed copy in the
 * metadata (an AWS_KMS row), and uses the opened copy as the wrapping key of the key's blob
 * store. Opened copies are kept `ttlMs`, so a key disabled or revoked in the KMS stops reads and
 * writes within that time, as KMS grants do for ECR.
 */
import { randomUUID } from 'node:crypto';
import type { WrappingKey, WrappingKeys } from '../blobstore/encrypted/wrapping-keys.js';
import type { Clock } from '../core/clock.js';
import { Codes, RegistryError } from '../core/errors.js';
import type { KmsKeyRecord, KmsKeyStore } from '../metadata/types.js';
import { ECR_MANAGED_ALIAS, keyIdBytes } from './kms-keys.js';
import type { RemoteKms } from './remote-kms.js';

/** Binds the sealed data key to its purpose and row, so it cannot be replayed elsewhere. */
const context = (record: Pick<KmsKeyRecord, 'id'>) => ({ 'berth:purpose': 'blob wrapping key', 'berth:key-row': record.id });

export class RemoteKeys {
  readonly #opened = new Map<string, { key: Buffer; at: number }>();

  constructor(
    private readonly store: KmsKeyStore,
    private readonly kms: RemoteKms,
    private readonly clock: Clock,
    private readonly opts: { ttlMs: number },
  ) {}

  /**
   * Checks a new repository's key with the KMS and returns its ARN; records the key on first use,
   * once `check` (whether the creator may use it) has passed: a refused creation records nothing.
   */
  async settle(accountId: string, region: string, kmsKey: string | undefined, check?: (arn: string) => Promise<void>): Promise<string> {
    const { arn, enabled } = await this.kms.describe(kmsKey ?? ECR_MANAGED_ALIAS);
    if (!enabled) throw new RegistryError(Codes.KmsException, `${arn} is not enabled`);
    await check?.(arn);
    if (await this.store.findByArn(arn)) return arn;
    const id = randomUUID();
    const { ciphertext } = await this.kms.generateDataKey(arn, context({ id }));
    try {
      await this.store.create({
        id,
        accountId,
        region,
        arn,
        description: '',
        state: 'Enabled',
        origin: 'AWS_KMS',
        sealedMaterial: ciphertext.toString('base64'),
        now: this.clock.now(),
      });
    } catch (e) {
      // Another node recorded the key first (the ARN is unique): theirs is as good.
      if (!(await this.store.findByArn(arn))) throw e;
    }
    return arn;
  }

  wrappingKeysFor(record: KmsKeyRecord): WrappingKeys {
    const id = keyIdBytes(record.id);
    const current = async (): Promise<WrappingKey> => ({ id, key: await this.#open(record) });
    return {
      current,
      byId: async (asked) => {
        if (!asked.equals(id)) throw new Error('blob sealed under an unknown key');
        return current();
      },
    };
  }

  async #open(record: KmsKeyRecord): Promise<Buffer> {
    const now = this.clock.now().getTime();
    const hit = this.#opened.get(record.id);
    if (hit && now - hit.at < this.opts.ttlMs) return Buffer.from(hit.key);
    const key = await this.kms.decrypt(record.arn, Buffer.from(record.sealedMaterial ?? '', 'base64'), context(record));
    if (this.opts.ttlMs > 0) this.#opened.set(record.id, { key, at: now });
    return Buffer.from(key);
  }
}
