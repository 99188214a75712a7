/**
 * ECR's pull-through cache rules of a registry: an ECR repository prefix mapped to an upstream
 * registry (its URL, its kind, an optional upstream repository prefix) and, for upstreams that
 * need them, credentials kept as a Secrets Manager secret named `ecr-pullthroughcache/...`.
 * Validated as ECR validates them; ValidatePullThroughCacheRule really asks the upstream.
 */
import { isIP } from 'node:net';
import type { Clock } from '../core/clock.js';
import { PullThroughCodes } from '../core/errors.js';
import { guardedFetch, type Fetch } from '../core/guarded-fetch.js';
import { ReachPolicy } from '../core/outbound-reach.js';
import { accountOf, regionOf, registryKeyText, type RegistryKey } from '../core/registry-key.js';
import type { DocumentStore } from '../metadata/documents.js';
import type { SecretsService } from '../secrets/secrets.js';
import { pullThroughError } from './errors.js';
import { DEFAULT_UPSTREAM_LIMITS, UpstreamClient, type UpstreamCredentials, type UpstreamLimits } from './upstream.js';

export const UPSTREAM_REGISTRIES = [
  'ecr',
  'ecr-public',
  'quay',
  'k8s',
  'docker-hub',
  'github-container-registry',
  'azure-container-registry',
  'gitlab-container-registry',
  'chainguard',
] as const;
export type UpstreamRegistry = (typeof UPSTREAM_REGISTRIES)[number];

/** Upstreams ECR accepts only with credentials. */
const NEEDS_CREDENTIALS: ReadonlySet<string> = new Set(['docker-hub', 'github-container-registry', 'azure-container-registry', 'gitlab-container-registry']);
/** ECR's limit of rules per registry. */
export const MAX_RULES = 50;
const KIND = 'ptc-rule';

export interface PullThroughRule {
  ecrRepositoryPrefix: string;
  upstreamRegistryUrl: string;
  /** Absent for an upstream of no kind ECR names (a private distribution, Harbor, another Berth). */
  upstreamRegistry?: UpstreamRegistry;
  credentialArn?: string;
  upstreamRepositoryPrefix?: string;
  createdAt: number;
  updatedAt: number;
}

/** The kind of upstream a host is, as ECR infers it from the URL. */
export function upstreamKindOf(host: string): UpstreamRegistry | undefined {
  const h = host.toLowerCase().replace(/:\d+$/, '');
  if (h === 'registry-1.docker.io' || h === 'docker.io') return 'docker-hub';
  if (h === 'public.ecr.aws') return 'ecr-public';
  if (h === 'quay.io') return 'quay';
  if (h === 'registry.k8s.io') return 'k8s';
  if (h === 'ghcr.io') return 'github-container-registry';
  if (h === 'registry.gitlab.com') return 'gitlab-container-registry';
  if (h === 'cgr.dev') return 'chainguard';
  if (h.endsWith('.azurecr.io')) return 'azure-container-registry';
  if (/^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/.test(h)) return 'ecr';
  return undefined;
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  const v = isIP(h);
  return (v === 4 && h.startsWith('127.')) || (v === 6 && h === '::1');
}

/** The base URL an `upstreamRegistryUrl` names: https:// unless it says http:// (allowed for loopback, or by config). */
export function upstreamBase(url: string, allowHttp: boolean): string {
  const m = /^(?:(https?):\/\/)?([^/?#\s]+)\/?$/i.exec(url);
  const invalid = () =>
    pullThroughError(
      PullThroughCodes.InvalidParameter,
      `Invalid parameter at 'upstreamRegistryUrl' failed to satisfy constraint: 'must be host[:port], reached over HTTPS'`,
    );
  if (!m) throw invalid();
  const scheme = (m[1] ?? 'https').toLowerCase();
  let parsed: URL;
  try {
    parsed = new URL(`${scheme}://${m[2]}`);
  } catch {
    throw invalid();
  }
  if (parsed.username !== '' || parsed.password !== '') throw invalid();
  if (scheme === 'http' && !allowHttp && !isLoopback(parsed.hostname)) {
    throw pullThroughError(
      PullThroughCodes.InvalidParameter,
      `Invalid parameter at 'upstreamRegistryUrl': plain HTTP is accepted only for a loopback upstream (or with pullThroughAllowHttp)`,
    );
  }
  return `${scheme}://${parsed.host}`;
}

/**
 * Who asks for a rule: may they hand the secret `arn` to an upstream of their choosing? Throws
 * (an access refusal) if not. Absent for Berth's own callers (`berth admin`).
 */
export interface SecretUse {
  check(arn: string): Promise<void>;
}

/**
 * Whether a rule with these credentials sends them to a place its creator chose freely. ECR
 * accepts only the upstreams it names, so a secret goes only to its registry and creating the
 * rule asks no Secrets Manager permission. Berth also takes any host (a private registry,
 * another Berth): there the rule's creator decides where the username and token go, which is
 * as good as reading them, so it takes secretsmanager:GetSecretValue on the secret.
 */
function sendsAnywhere(upstreamRegistryUrl: string): boolean {
  const host = /^(?:[a-z]+:\/\/)?([^/?#\s]+)/i.exec(upstreamRegistryUrl)?.[1];
  return host === undefined || upstreamKindOf(host) === undefined;
}

/** How long a node trusts its answer to "has this registry any rule?" (another node may create one meanwhile). */
const ANY_RULE_TTL_MS = 5_000;

export class PullThroughRules {
  /** Per registry: whether it had any rule when last read, and until when that answer holds. */
  readonly #anyRule = new Map<string, { any: boolean; until: number }>();

  constructor(
    private readonly store: DocumentStore,
    private readonly secrets: SecretsService,
    private readonly clock: Clock,
    private readonly opts: { allowHttp: boolean; upstreamLimits?: UpstreamLimits; reach?: ReachPolicy },
  ) {
    this.#reach = opts.reach ?? new ReachPolicy();
    this.#fetch = guardedFetch(this.#reach);
  }

  readonly #reach: ReachPolicy;
  readonly #fetch: Fetch;

  async create(key: RegistryKey, input: Omit<PullThroughRule, 'createdAt' | 'updatedAt'>, secretUse?: SecretUse): Promise<PullThroughRule> {
    if (input.ecrRepositoryPrefix === 'ROOT') {
      throw pullThroughError(PullThroughCodes.InvalidParameter, 'Berth does not support the ROOT prefix: name an ecrRepositoryPrefix.');
    }
    const base = upstreamBase(input.upstreamRegistryUrl, this.opts.allowHttp);
    const refused = this.#reach.hostRefusal(new URL(base).hostname);
    if (refused) {
      throw pullThroughError(
        PullThroughCodes.InvalidParameter,
        `Invalid parameter at 'upstreamRegistryUrl': Berth does not reach ${new URL(base).hostname} (${refused}; see outboundAllow)`,
      );
    }
    const inferred = upstreamKindOf(new URL(base).host);
    if (input.upstreamRegistry !== undefined && inferred !== undefined && input.upstreamRegistry !== inferred) {
      throw pullThroughError(
        PullThroughCodes.UnsupportedUpstreamRegistry,
        `The upstream registry URL ${input.upstreamRegistryUrl} is not a ${input.upstreamRegistry} registry.`,
      );
    }
    const kind = input.upstreamRegistry ?? inferred;
    if (kind !== undefined && NEEDS_CREDENTIALS.has(kind) && input.credentialArn === undefined) {
      throw pullThroughError(PullThroughCodes.InvalidParameter, `A credentialArn is required for the upstream registry ${kind}.`);
    }
    if (input.credentialArn !== undefined) {
      if (sendsAnywhere(input.upstreamRegistryUrl)) await secretUse?.check(input.credentialArn);
      await this.credentials(key, input.credentialArn);
    }
    if ((await this.store.list(key, KIND, { limit: MAX_RULES })).length >= MAX_RULES) {
      throw pullThroughError(PullThroughCodes.LimitExceeded, `The maximum number of pull through cache rules (${MAX_RULES}) has been reached.`);
    }
    const now = this.clock.now().getTime();
    const rule: PullThroughRule = {
      ecrRepositoryPrefix: input.ecrRepositoryPrefix,
      upstreamRegistryUrl: input.upstreamRegistryUrl,
      ...(kind !== undefined && { upstreamRegistry: kind }),
      ...(input.credentialArn !== undefined && { credentialArn: input.credentialArn }),
      ...(input.upstreamRepositoryPrefix !== undefined && { upstreamRepositoryPrefix: input.upstreamRepositoryPrefix }),
      createdAt: now,
      updatedAt: now,
    };
    const created = await this.store.create({
      registryKey: key,
      kind: KIND,
      name: rule.ecrRepositoryPrefix,
      document: JSON.stringify(rule),
      now: new Date(now),
    });
    if (!created) {
      throw pullThroughError(
        PullThroughCodes.RuleAlreadyExists,
        `A pull through cache rule with the prefix '${rule.ecrRepositoryPrefix}' already exists in the registry with id '${accountOf(key)}'`,
      );
    }
    this.#anyRule.delete(registryKeyText(key));
    return rule;
  }

  async get(key: RegistryKey, prefix: string): Promise<PullThroughRule> {
    const r = await this.store.get(key, KIND, prefix);
    if (!r) throw this.notFound(key, prefix);
    return JSON.parse(r.document) as PullThroughRule;
  }

  /** In prefix order after `after`. */
  async list(key: RegistryKey, limit: number, after: string | undefined): Promise<PullThroughRule[]> {
    const rows = await this.store.list(key, KIND, { limit, ...(after !== undefined && { after }) });
    return rows.map((r) => JSON.parse(r.document) as PullThroughRule);
  }

  /** The rule whose prefix a repository name falls under (the longest), if any. */
  /**
   * Whether the registry has any rule, from a short per-node memory: asked on every manifest GET by
   * tag (a cached tag may be due for its re-check), where most registries have no rule at all.
   */
  async any(key: RegistryKey): Promise<boolean> {
    const k = registryKeyText(key);
    const now = this.clock.now().getTime();
    const known = this.#anyRule.get(k);
    if (known && known.until > now) return known.any;
    const any = (await this.store.list(key, KIND, { limit: 1 })).length > 0;
    this.#anyRule.set(k, { any, until: now + ANY_RULE_TTL_MS });
    return any;
  }

  async ruleFor(key: RegistryKey, repository: string): Promise<PullThroughRule | undefined> {
    const parts = repository.split('/');
    for (let n = parts.length - 1; n >= 1; n--) {
      const r = await this.store.get(key, KIND, parts.slice(0, n).join('/'));
      if (r) return JSON.parse(r.document) as PullThroughRule;
    }
    return undefined;
  }

  /** Changes the credentials (ECR's UpdatePullThroughCacheRule changes nothing else). */
  async update(key: RegistryKey, prefix: string, credentialArn: string | undefined, secretUse?: SecretUse): Promise<PullThroughRule> {
    for (;;) {
      const r = await this.store.get(key, KIND, prefix);
      if (!r) throw this.notFound(key, prefix);
      const { credentialArn: _old, ...rest } = JSON.parse(r.document) as PullThroughRule;
      if (credentialArn !== undefined) {
        if (sendsAnywhere(rest.upstreamRegistryUrl)) await secretUse?.check(credentialArn);
        await this.credentials(key, credentialArn);
      }
      const rule: PullThroughRule = { ...rest, ...(credentialArn !== undefined && { credentialArn }), updatedAt: this.clock.now().getTime() };
      if (await this.store.replace({ registryKey: r.registryKey, kind: KIND, name: prefix, document: JSON.stringify(rule), now: this.clock.now() }, r.document))
        return rule;
    }
  }

  async delete(key: RegistryKey, prefix: string): Promise<PullThroughRule> {
    const rule = await this.get(key, prefix);
    if (!(await this.store.delete(key, KIND, prefix))) throw this.notFound(key, prefix);
    this.#anyRule.delete(registryKeyText(key));
    return rule;
  }

  /** Asks the upstream, with the rule's credentials, whether it answers. */
  async validate(key: RegistryKey, prefix: string): Promise<{ rule: PullThroughRule; isValid: boolean; failure?: string }> {
    const rule = await this.get(key, prefix);
    let client: UpstreamClient;
    try {
      client = await this.client(key, rule);
    } catch (e) {
      return { rule, isValid: false, failure: e instanceof Error ? e.message : String(e) };
    }
    const checked = await client.check();
    return checked.ok ? { rule, isValid: true } : { rule, isValid: false, failure: checked.failure };
  }

  /** A client of the rule's upstream with its current credentials. */
  async client(key: RegistryKey, rule: PullThroughRule): Promise<UpstreamClient> {
    const creds = rule.credentialArn === undefined ? undefined : await this.credentials(key, rule.credentialArn);
    return new UpstreamClient(
      upstreamBase(rule.upstreamRegistryUrl, this.opts.allowHttp),
      creds,
      this.opts.upstreamLimits ?? DEFAULT_UPSTREAM_LIMITS,
      this.#fetch,
    );
  }

  /** The upstream credentials a secret holds: JSON `{"username": ..., "accessToken": ...}`, as ECR reads them. */
  private async credentials(key: RegistryKey, arn: string): Promise<UpstreamCredentials> {
    const scope = { accountId: accountOf(key), region: regionOf(key) };
    let found: Awaited<ReturnType<SecretsService['currentValue']>>;
    try {
      found = await this.secrets.currentValue(scope, arn);
    } catch {
      throw pullThroughError(PullThroughCodes.UnableToDecryptSecretValue, `The secret ${arn} could not be decrypted.`);
    }
    if (!found.found) throw pullThroughError(PullThroughCodes.SecretNotFound, `The secret ${arn} was not found in this registry's account and region.`);
    if (found.value === undefined) throw pullThroughError(PullThroughCodes.UnableToAccessSecret, `The secret ${arn} has no current value.`);
    let doc: { username?: unknown; accessToken?: unknown };
    try {
      doc = JSON.parse(found.value) as typeof doc;
    } catch {
      doc = {};
    }
    if (typeof doc.username !== 'string' || typeof doc.accessToken !== 'string') {
      throw pullThroughError(PullThroughCodes.UnableToAccessSecret, `The secret ${arn} must hold JSON with "username" and "accessToken".`);
    }
    return { username: doc.username, password: doc.accessToken };
  }

  private notFound(key: RegistryKey, prefix: string) {
    return pullThroughError(
      PullThroughCodes.RuleNotFound,
      `The pull through cache rule with the prefix '${prefix}' does not exist in the registry with id '${accountOf(key)}'`,
    );
  }
}
