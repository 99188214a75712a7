/** What an ECR action receives: the core, the addressed registry, and how to name things in answers. */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Principal } from '../../auth/principal.js';
import { registryKey, type RegistryKey } from '../../core/registry-key.js';
import type { LifecyclePreviews } from '../../lifecycle/previews.js';
import type { RepoScope } from '../../registry/context.js';
import type { KeyUse } from '../../registry/repository-admin.js';
import type { Registry } from '../../registry/registry.js';
import type { MaySign } from '../../registry/signing.js';
import type { V2Location } from '../registry-address.js';
import type { PullThroughRules, SecretUse } from '../../pullthrough/rules.js';
import type { ImportAccess, PullThroughCache } from '../../pullthrough/cache.js';

export interface EcrCall {
  registry: Registry;
  req: IncomingMessage;
  body: unknown;
  principal: Principal;
  /** The caller's account, and so the default registry. */
  accountId: string;
  region: string;
  /** host[:port] used in ECR Public's repository URIs and catalog. */
  registryHost: string;
  /** Where clients reach an account's private registry over /v2 (repository URIs, proxy endpoints). */
  v2Location: (accountId: string) => V2Location;
  loginTokens: LoginTokenIssuer;
  /** Start/GetLifecyclePolicyPreview's engine, built by the composition root. */
  lifecyclePreviews: LifecyclePreviews;
  log: Logger;
  /** The pull-through cache's rules, when the server has them. */
  pullThrough?: PullThroughRules;
  /** What the rules ask of this caller before they send a secret to an upstream (set with pullThrough). */
  secretUse?: (registry: RegistryKey) => SecretUse;
  /**
   * Checks `ecr:<action>` on the addressed registry ("*") for each action, as the call's own
   * action was checked: for what only the core can tell a call grants (a template's update).
   */
  mayOnRegistry?: (actions: string[]) => Promise<void>;
  /** Whether the caller may use the KMS key a repository it creates names (../kms-key-use.ts). */
  mayUseKey?: (registry: RegistryKey) => KeyUse;
  /** Whether the caller may sign with a signing profile (managed signing signs with the pusher's identity). */
  maySign?: MaySign;
  /** The pull-through cache's pull path, and what it asks of this caller before an import. */
  pullThroughCache?: { cache: PullThroughCache; access: (scope: RepoScope) => ImportAccess };
}

/** Issues the 12-hour /v2 password for a principal. */
export type LoginTokenIssuer = (principal: Principal) => { password: string; expiresAt: Date };

export type EcrAction = (call: EcrCall) => Promise<unknown>;

/** The registry an action addresses: the request's `registryId` (an account), or the caller's own. */
export function addressedRegistry(call: EcrCall, registryId?: string): RegistryKey {
  return registryKey(registryId ?? call.accountId, call.region);
}

export function repoScope(call: EcrCall, name: string, registryId?: string): RepoScope {
  return { registryKey: addressedRegistry(call, registryId), name };
}
