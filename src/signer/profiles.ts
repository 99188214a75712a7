/**
 * Berth's stand-in for AWS Signer's signing profiles, for container images only (platform
 * Notation-OCI-SHA384-ECDSA): each profile holds an ECDSA P-384 key pair Berth generated, its
 * private key sealed under the server key before it is stored, and a self-signed code-signing
 * certificate. Profiles live per account and region, by name; canceling one keeps it (listed
 * with includeCanceled, its name reserved, as Signer keeps canceled profiles) and stops it
 * signing. The private key leaves this module only as a KeyObject handed to the signing job.
 */
import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { SignerCodes, type WireCode } from '../core/errors.js';
import { registryKey } from '../core/registry-key.js';
import { parseSigningProfileArn, signingProfileArn as profileArn } from '../core/arns.js';
import type { DocumentStore } from '../metadata/documents.js';
import type { SecretSealer } from '../secrets/secrets.js';
import { createSigningMaterial } from './certificate.js';

export const NOTATION_PLATFORM = 'Notation-OCI-SHA384-ECDSA';
const PLATFORM_DISPLAY_NAME = 'Notation for Container Registries';
const KIND = 'signing-profile';
/** Signer's default signature validity for Notation profiles. */
const DEFAULT_VALIDITY = { value: 135, type: 'MONTHS' } as const;
const DAYS_OF = { DAYS: 1, MONTHS: 30, YEARS: 365 } as const;
/** The certificate outlives the longest signature validity a profile may ask for. */
const CERTIFICATE_DAYS = 4100;
const MAX_VALIDITY_DAYS = 135 * 30;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export type ProfileStatus = 'Active' | 'Canceled' | 'Revoked';
export type ValidityType = keyof typeof DAYS_OF;

export interface SignerScope {
  accountId: string;
  region: string;
}

export class SignerError extends Error {
  constructor(
    readonly wire: WireCode,
    message: string,
  ) {
    super(message);
    this.name = 'SignerError';
  }
}

interface ProfileDoc {
  profileName: string;
  profileVersion: string;
  platformId: string;
  signatureValidityPeriod: { value: number; type: ValidityType };
  status: ProfileStatus;
  statusReason?: string;
  tags: Record<string, string>;
  created: number;
  canceledAt?: number;
  sealedKey: string;
  certificatePem: string;
}

/** A profile as the Signer API shows it (GetSigningProfile; ListSigningProfiles shows a subset). */
export interface SigningProfileView {
  profileName: string;
  profileVersion: string;
  profileVersionArn: string;
  arn: string;
  platformId: string;
  platformDisplayName: string;
  signatureValidityPeriod: { value: number; type: ValidityType };
  status: ProfileStatus;
  statusReason?: string;
  tags?: Record<string, string>;
}

/** What the signing job needs of an Active profile. */
export interface SigningKey {
  arn: string;
  profileVersionArn: string;
  key: KeyObject;
  certificatePem: string;
  validityDays: number;
}

export { signingProfileArn as profileArn } from '../core/arns.js';

const notFound = (name: string) => new SignerError(SignerCodes.ResourceNotFound, `Signing profile ${name} does not exist.`);
const invalid = (message: string) => new SignerError(SignerCodes.Validation, message);

export class SigningProfiles {
  constructor(
    private readonly store: DocumentStore,
    private readonly clock: Clock,
    private readonly sealer: SecretSealer,
    /** How many profiles the account may hold in a region, canceled ones included (quota signingProfiles). */
    private readonly limit: (scope: SignerScope) => Promise<number>,
  ) {}

  async put(
    scope: SignerScope,
    input: { profileName: string; platformId: string; signatureValidityPeriod?: { value: number; type: ValidityType }; tags?: Record<string, string> },
  ): Promise<{ arn: string; profileVersion: string; profileVersionArn: string }> {
    if (input.platformId !== NOTATION_PLATFORM) {
      throw invalid(`Berth's signer serves the ${NOTATION_PLATFORM} platform only, not ${input.platformId.slice(0, 100)}.`);
    }
    const validity = input.signatureValidityPeriod ?? DEFAULT_VALIDITY;
    const days = validity.value * DAYS_OF[validity.type];
    if (!Number.isInteger(validity.value) || validity.value < 1 || days > MAX_VALIDITY_DAYS) {
      throw invalid('The signature validity period must be between 1 day and 135 months.');
    }
    // Names are never reused, so every profile keeps its sealed key for good: the count is bounded.
    // (Two creations racing for the last slot may both pass; the bound is on storage, not exact.)
    const limit = await this.limit(scope);
    if ((await this.store.count(registryKey(scope.accountId, scope.region), KIND)) >= limit) {
      throw new SignerError(
        SignerCodes.ServiceLimitExceeded,
        `The account ${scope.accountId} has reached its limit of ${limit} signing profiles in ${scope.region}, canceled ones included (quota signingProfiles).`,
      );
    }
    const now = this.clock.now();
    const material = createSigningMaterial({ profileName: input.profileName, accountId: scope.accountId, now, validDays: CERTIFICATE_DAYS });
    const doc: ProfileDoc = {
      profileName: input.profileName,
      profileVersion: [...randomBytes(10)].map((b) => ALPHANUMERIC[b % ALPHANUMERIC.length]).join(''),
      platformId: input.platformId,
      signatureValidityPeriod: validity,
      status: 'Active',
      tags: input.tags ?? {},
      created: now.getTime(),
      sealedKey: this.sealer.seal(material.privateKeyPem),
      certificatePem: material.certificatePem,
    };
    const created = await this.store.create({
      registryKey: registryKey(scope.accountId, scope.region),
      kind: KIND,
      name: input.profileName,
      document: JSON.stringify(doc),
      now,
    });
    // Signer keeps a canceled profile's name: it is never reused, so an ARN names one key for good.
    if (!created) throw invalid(`A signing profile named ${input.profileName} already exists.`);
    const arn = profileArn(scope, input.profileName);
    return { arn, profileVersion: doc.profileVersion, profileVersionArn: `${arn}/${doc.profileVersion}` };
  }

  async get(scope: SignerScope, name: string): Promise<SigningProfileView> {
    const doc = await this.read(scope, name);
    if (!doc) throw notFound(name);
    return view(scope, doc, true);
  }

  /** The account's profiles in name order, canceled ones only when asked for (ListSigningProfiles). */
  async list(scope: SignerScope, opts: { includeCanceled: boolean; statuses?: ProfileStatus[]; platformId?: string; after?: string; limit: number }) {
    const out: SigningProfileView[] = [];
    let after = opts.after;
    for (;;) {
      const page = await this.store.list(registryKey(scope.accountId, scope.region), KIND, { limit: 100, ...(after !== undefined && { after }) });
      for (const r of page) {
        const doc = JSON.parse(r.document) as ProfileDoc;
        if (doc.status === 'Canceled' && !opts.includeCanceled) continue;
        if (opts.statuses && opts.statuses.length > 0 && !opts.statuses.includes(doc.status)) continue;
        if (opts.platformId !== undefined && doc.platformId !== opts.platformId) continue;
        if (out.length === opts.limit) return { profiles: out, nextName: out[out.length - 1]!.profileName };
        out.push(view(scope, doc, false));
      }
      if (page.length < 100) return { profiles: out };
      after = page[page.length - 1]!.name;
    }
  }

  /** Active → Canceled; a profile already canceled stays so (Signer answers it alike). */
  async cancel(scope: SignerScope, name: string): Promise<void> {
    const key = registryKey(scope.accountId, scope.region);
    for (;;) {
      const record = await this.store.get(key, KIND, name);
      if (!record) throw notFound(name);
      const doc = JSON.parse(record.document) as ProfileDoc;
      if (doc.status === 'Canceled') return;
      const next: ProfileDoc = { ...doc, status: 'Canceled', canceledAt: this.clock.now().getTime() };
      if (await this.store.replace({ registryKey: key, kind: KIND, name, document: JSON.stringify(next), now: this.clock.now() }, record.document)) return;
    }
  }

  /**
   * The key and certificate a signature by the profile `arn` is made with, or why none can be
   * made: the failure code and reason DescribeImageSigningStatus reports.
   */
  async signingKey(arn: string): Promise<SigningKey | { failureCode: string; failureReason: string }> {
    const named = parseSigningProfileArn(arn);
    const doc = named && (await this.read(named, named.name));
    if (!named || !doc) return { failureCode: 'SIGNING_PROFILE_NOT_FOUND', failureReason: `The signing profile ${arn} does not exist.` };
    if (doc.status !== 'Active') {
      return { failureCode: 'SIGNING_PROFILE_NOT_ACTIVE', failureReason: `The signing profile ${arn} is ${doc.status.toLowerCase()}.` };
    }
    const profileVersionArn = `${profileArn(named, doc.profileName)}/${doc.profileVersion}`;
    const validityDays = doc.signatureValidityPeriod.value * DAYS_OF[doc.signatureValidityPeriod.type];
    return { arn, profileVersionArn, key: createPrivateKey(this.sealer.open(doc.sealedKey)), certificatePem: doc.certificatePem, validityDays };
  }

  private async read(scope: SignerScope, name: string): Promise<ProfileDoc | undefined> {
    const record = await this.store.get(registryKey(scope.accountId, scope.region), KIND, name);
    return record && (JSON.parse(record.document) as ProfileDoc);
  }
}

function view(scope: SignerScope, doc: ProfileDoc, full: boolean): SigningProfileView {
  const arn = profileArn(scope, doc.profileName);
  return {
    profileName: doc.profileName,
    profileVersion: doc.profileVersion,
    profileVersionArn: `${arn}/${doc.profileVersion}`,
    arn,
    platformId: doc.platformId,
    platformDisplayName: PLATFORM_DISPLAY_NAME,
    signatureValidityPeriod: doc.signatureValidityPeriod,
    status: doc.status,
    ...(full && doc.statusReason !== undefined && { statusReason: doc.statusReason }),
    ...(Object.keys(doc.tags).length > 0 && { tags: doc.tags }),
  };
}
