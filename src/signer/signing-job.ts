/**
 * Managed signing's job (SIGN_JOB, queued with the push it signs): for each profile the push's
 * rules named, a Notation signature of the image manifest, stored as a referrer of the image in
 * its repository, and the profile's status recorded. Idempotent, as jobs must be: a signature
 * by the profile's certificate already among the image's referrers (a run that stored it, then
 * died before recording it) is reported COMPLETE, not made twice. A crash between the blobs and
 * the manifest leaves only unreferenced blobs, which GC reclaims. The last attempt's failure is
 * recorded FAILED, so no status stays IN_PROGRESS once the job is gone.
 */
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { digestOf, type Digest } from '../core/digest.js';
import { Codes, isRegistryError } from '../core/errors.js';
import { parseRegistryKey } from '../core/registry-key.js';
import type { JobRecord } from '../metadata/types.js';
import type { RepoScope } from '../registry/context.js';
import type { Registry } from '../registry/registry.js';
import { deniedStatus, type SignJobPayload } from '../registry/signing.js';
import {
  chainDer,
  chainThumbprints,
  EMPTY_CONFIG,
  EMPTY_CONFIG_BYTES,
  NOTATION_ARTIFACT_TYPE,
  notationEnvelope,
  signatureManifest,
  THUMBPRINT_ANNOTATION,
  type Descriptor,
} from './notation.js';
import type { SigningKey, SigningProfiles } from './profiles.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DAY_MS = 86_400_000;
/** Who the pushes of signatures are logged as. */
const SIGNER_PRINCIPAL = 'signer.amazonaws.com';

export class SigningJob {
  constructor(
    private readonly registry: Registry,
    private readonly profiles: SigningProfiles,
    private readonly opts: { log: Logger; maxAttempts: number; signingAgent: string },
  ) {}

  async run(job: JobRecord, signal: AbortSignal): Promise<void> {
    const payload = job.payload as SignJobPayload;
    const scope: RepoScope = { registryKey: parseRegistryKey(payload.registryKey), name: payload.repository };
    const subject = await this.subject(scope, payload);
    if (!subject) return;
    for (const arn of payload.denied ?? []) await this.registry.signing.finished(payload, deniedStatus(arn));
    for (const arn of payload.profileArns) {
      signal.throwIfAborted();
      const key = await this.profiles.signingKey(arn);
      if ('failureCode' in key) {
        await this.registry.signing.finished(payload, { signingProfileArn: arn, status: 'FAILED', ...key });
        continue;
      }
      try {
        await this.sign(scope, subject, key);
      } catch (err) {
        // The last attempt reports the failure; earlier ones leave IN_PROGRESS for the retry.
        if (job.attempts >= this.opts.maxAttempts) {
          await this.registry.signing.finished(payload, {
            signingProfileArn: arn,
            status: 'FAILED',
            failureCode: 'SIGNING_ERROR',
            failureReason: 'The signature could not be stored in the repository.',
          });
        }
        throw err;
      }
      await this.registry.signing.finished(payload, { signingProfileArn: arn, status: 'COMPLETE' });
    }
  }

  /** The image's descriptor; undefined (nothing to sign, nothing to report) once the image or its repository is gone. */
  private async subject(scope: RepoScope, payload: SignJobPayload): Promise<Descriptor | undefined> {
    try {
      const m = await this.registry.manifests.get(scope, { kind: 'digest', digest: payload.digest });
      return { mediaType: m.mediaType, digest: m.digest, size: m.size };
    } catch (err) {
      if (isRegistryError(err) && (err.code === Codes.ManifestUnknown || err.code === Codes.NameUnknown)) {
        this.opts.log.info({ repository: scope.name, digest: payload.digest }, 'image to sign is gone');
        return undefined;
      }
      throw err;
    }
  }

  private async sign(scope: RepoScope, subject: Descriptor, key: SigningKey): Promise<void> {
    const chain = chainDer(key.certificatePem);
    const thumbprints = chainThumbprints(chain);
    const existing = await this.registry.manifests.referrers(scope, subject.digest as Digest, NOTATION_ARTIFACT_TYPE);
    if (existing.some((r) => r.annotations?.[THUMBPRINT_ANNOTATION] === thumbprints)) return;
    const now = this.registry.ctx.clock.now();
    const envelope = notationEnvelope({
      target: subject,
      chain,
      key: key.key,
      signingTime: now,
      expiry: new Date(now.getTime() + key.validityDays * DAY_MS),
      signingAgent: this.opts.signingAgent,
    });
    const manifest = signatureManifest({ subject, envelope, chain, created: now });
    // The blobs first, then the manifest that references them (a digest is a promise).
    await this.registry.uploads.monolithic(scope, EMPTY_CONFIG.digest as Digest, Readable.from([EMPTY_CONFIG_BYTES]));
    await this.registry.uploads.monolithic(scope, digestOf(envelope, 'sha256'), Readable.from([envelope]));
    const digest = digestOf(manifest, 'sha256');
    await this.registry.manifests.push(scope, { kind: 'digest', digest }, manifest, OCI_MANIFEST, { createRepository: false, pushedBy: SIGNER_PRINCIPAL });
    this.opts.log.info({ repository: scope.name, subject: subject.digest, signature: digest, profile: key.arn }, 'image signed');
  }
}
