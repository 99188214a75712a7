/**
 * EventBridge's rules, targets, connections and API destinations, as `aws events` manages them:
 * the domain behind the events door (http/events). One event bus, "default", per account and
 * region (a Berth registry); Berth delivers to API destinations only (webhooks), so a target's
 * Arn must name one. Patterns are validated here (pattern.ts); connection secrets are sealed
 * before they are stored and never returned.
 */
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { Clock } from '../core/clock.js';
import { EventsCodes } from '../core/errors.js';
import { ReachPolicy } from '../core/outbound-reach.js';
import { registryKey, type RegistryKey } from '../core/registry-key.js';
import type { EventResourceKind, EventResourceRecord, EventResourceStore } from '../metadata/types.js';
import {
  type ApiDestinationDoc,
  apiDestinationArn,
  type AuthorizationType,
  type ConnectionDoc,
  type ConnectionPublic,
  type ConnectionSecrets,
  connectionArn,
  DEFAULT_BUS,
  nameInArn,
  type RuleDoc,
  ruleArn,
  type TargetDoc,
} from './documents.js';
import { eventsError } from './errors.js';
import { compilePattern, InvalidPatternError } from './pattern.js';

/** Seals and opens secrets at rest (the composition root's, under the server key). */
export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

/** Whose bus: an account in a region, the registry key `<account>:<region>`. */
export interface EventsScope {
  accountId: string;
  region: string;
}

export const MAX_TARGETS_PER_RULE = 5;

const DEFAULT_REACH = new ReachPolicy();

const registryOf = (s: EventsScope): RegistryKey => registryKey(s.accountId, s.region);

const notFound = (what: string) => eventsError(EventsCodes.ResourceNotFound, what);

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

export class EventBridgeService {
  constructor(
    private readonly store: EventResourceStore,
    private readonly clock: Clock,
    private readonly secrets: SecretBox,
    private readonly opts: { allowHttp: boolean; reach?: ReachPolicy },
  ) {}

  /** Refuses any bus but the default one (by name or ARN). */
  checkBus(scope: EventsScope, bus: string | undefined): void {
    if (bus === undefined || bus === DEFAULT_BUS || bus === `arn:aws:events:${scope.region}:${scope.accountId}:event-bus/${DEFAULT_BUS}`) return;
    throw notFound(`Event bus ${bus.slice(0, 256)} does not exist.`);
  }

  ruleArn(scope: EventsScope, name: string): string {
    return ruleArn(scope.region, scope.accountId, name);
  }

  /** Creates or updates a rule; the pattern must be valid. */
  async putRule(scope: EventsScope, input: { name: string; eventPattern: string; state?: string; description?: string; roleArn?: string }): Promise<string> {
    try {
      compilePattern(input.eventPattern);
    } catch (e) {
      if (e instanceof InvalidPatternError) throw eventsError(EventsCodes.InvalidEventPattern, e.message);
      throw e;
    }
    const existing = await this.rule(scope, input.name, false);
    const doc: RuleDoc = {
      Arn: this.ruleArn(scope, input.name),
      EventPattern: input.eventPattern,
      // An update without State keeps the rule's state, as EventBridge does.
      State: input.state === 'DISABLED' ? 'DISABLED' : input.state === undefined && existing ? existing.State : 'ENABLED',
      ...(input.description !== undefined && { Description: input.description }),
      ...(input.roleArn !== undefined && { RoleArn: input.roleArn }),
    };
    await this.store.put({ registryKey: registryOf(scope), kind: 'rule', name: input.name, document: JSON.stringify(doc), now: this.clock.now() }, true);
    return doc.Arn;
  }

  async describeRule(scope: EventsScope, name: string): Promise<RuleDoc & { Name: string }> {
    return { Name: name, ...(await this.rule(scope, name, true))! };
  }

  async listRules(scope: EventsScope, prefix: string | undefined, limit: number, token: string | undefined): Promise<Page<RuleDoc & { Name: string }>> {
    const page = await this.list(scope, 'rule', prefix, limit, token);
    return { ...page, items: page.items.map((r) => ({ Name: r.name, ...(JSON.parse(r.document) as RuleDoc) })) };
  }

  async setRuleState(scope: EventsScope, name: string, state: 'ENABLED' | 'DISABLED'): Promise<void> {
    const rule = (await this.rule(scope, name, true))!;
    await this.store.put(
      { registryKey: registryOf(scope), kind: 'rule', name, document: JSON.stringify({ ...rule, State: state }), now: this.clock.now() },
      true,
    );
  }

  /** A rule with targets is kept unless `force`, as EventBridge does. Deleting a missing rule succeeds. */
  async deleteRule(scope: EventsScope, name: string, force: boolean): Promise<void> {
    if (!force && (await this.store.targets(registryOf(scope), name)).length > 0) {
      throw eventsError(EventsCodes.Validation, "Rule can't be deleted since it has targets.");
    }
    await this.store.delete(registryOf(scope), 'rule', name);
  }

  /**
   * Adds or replaces targets; each must name an API destination of this account and region that
   * exists. Per-target refusals are failed entries, as EventBridge reports them.
   */
  async putTargets(scope: EventsScope, rule: string, targets: TargetDoc[]): Promise<Array<{ TargetId: string; ErrorCode: string; ErrorMessage: string }>> {
    await this.rule(scope, rule, true);
    const failed: Array<{ TargetId: string; ErrorCode: string; ErrorMessage: string }> = [];
    const accepted: TargetDoc[] = [];
    for (const t of targets) {
      const name = nameInArn(t.Arn, 'api-destination', scope.region, scope.accountId);
      const problem =
        name === undefined
          ? 'Berth delivers events to API destinations of this account and region only.'
          : !(await this.store.get(registryOf(scope), 'api-destination', name))
            ? `API destination ${name} does not exist.`
            : t.Input !== undefined && !isJson(t.Input)
              ? 'Input is not valid JSON.'
              : undefined;
      if (problem) failed.push({ TargetId: t.Id, ErrorCode: EventsCodes.Validation.code, ErrorMessage: problem });
      else accepted.push(t);
    }
    if (accepted.length > 0) {
      const result = await this.store.putTargets(
        registryOf(scope),
        rule,
        accepted.map((t) => ({ id: t.Id, document: JSON.stringify(t) })),
        MAX_TARGETS_PER_RULE,
      );
      if (result === 'noRule') throw this.ruleNotFound(rule);
      if (result === 'limit')
        throw eventsError(EventsCodes.LimitExceeded, `The requested resource exceeds the maximum number allowed (${MAX_TARGETS_PER_RULE} targets per rule).`);
    }
    return failed;
  }

  async removeTargets(scope: EventsScope, rule: string, ids: string[]): Promise<Array<{ TargetId: string; ErrorCode: string; ErrorMessage: string }>> {
    await this.rule(scope, rule, true);
    const removed = new Set(await this.store.removeTargets(registryOf(scope), rule, ids));
    return ids
      .filter((id) => !removed.has(id))
      .map((id) => ({ TargetId: id, ErrorCode: EventsCodes.ResourceNotFound.code, ErrorMessage: `Target ${id} does not exist on rule ${rule}.` }));
  }

  async listTargets(scope: EventsScope, rule: string, limit: number, token: string | undefined): Promise<Page<TargetDoc>> {
    await this.rule(scope, rule, true);
    const all = (await this.store.targets(registryOf(scope), rule)).map((t) => JSON.parse(t.document) as TargetDoc);
    const after = token === undefined ? undefined : decodeToken(token);
    const rest = after === undefined ? all : all.filter((t) => t.Id > after);
    const items = rest.slice(0, limit);
    return { items, ...(rest.length > limit && { nextToken: encodeToken(items.at(-1)!.Id) }) };
  }

  async createConnection(
    scope: EventsScope,
    input: { name: string; description?: string; authorizationType: AuthorizationType; public: ConnectionPublic; secrets: ConnectionSecrets },
  ): Promise<{ arn: string; created: Date }> {
    if (input.public.AuthorizationEndpoint !== undefined) this.checkEndpoint(input.public.AuthorizationEndpoint, 'AuthorizationEndpoint');
    const doc: ConnectionDoc = {
      Arn: connectionArn(scope.region, scope.accountId, input.name, randomUUID()),
      ...(input.description !== undefined && { Description: input.description }),
      AuthorizationType: input.authorizationType,
      Public: input.public,
      Sealed: this.secrets.seal(JSON.stringify(input.secrets)),
    };
    const now = this.clock.now();
    const created = await this.store.put({ registryKey: registryOf(scope), kind: 'connection', name: input.name, document: JSON.stringify(doc), now }, false);
    if (!created) throw eventsError(EventsCodes.ResourceAlreadyExists, `Connection ${input.name} already exists.`);
    return { arn: doc.Arn, created: now };
  }

  async describeConnection(scope: EventsScope, name: string): Promise<{ doc: ConnectionDoc; record: EventResourceRecord }> {
    const record = await this.store.get(registryOf(scope), 'connection', name);
    if (!record) throw notFound(`Failed to describe the connection(s). Connection '${name}' does not exist.`);
    return { doc: JSON.parse(record.document) as ConnectionDoc, record };
  }

  async deleteConnection(scope: EventsScope, name: string): Promise<{ doc: ConnectionDoc; record: EventResourceRecord }> {
    const found = await this.describeConnection(scope, name);
    await this.store.delete(registryOf(scope), 'connection', name);
    return found;
  }

  async createApiDestination(
    scope: EventsScope,
    input: { name: string; description?: string; connectionArn: string; endpoint: string; method: string; rateLimit: number },
  ): Promise<{ arn: string; created: Date }> {
    this.checkEndpoint(input.endpoint, 'InvocationEndpoint');
    const connection = nameInArn(input.connectionArn, 'connection', scope.region, scope.accountId);
    const found = connection === undefined ? undefined : await this.store.get(registryOf(scope), 'connection', connection);
    if (!found || (JSON.parse(found.document) as ConnectionDoc).Arn !== input.connectionArn) {
      throw notFound(`Connection '${input.connectionArn.slice(0, 256)}' does not exist.`);
    }
    const doc: ApiDestinationDoc = {
      Arn: apiDestinationArn(scope.region, scope.accountId, input.name, randomUUID()),
      ...(input.description !== undefined && { Description: input.description }),
      ConnectionArn: input.connectionArn,
      InvocationEndpoint: input.endpoint,
      HttpMethod: input.method,
      InvocationRateLimitPerSecond: input.rateLimit,
    };
    const now = this.clock.now();
    const created = await this.store.put(
      { registryKey: registryOf(scope), kind: 'api-destination', name: input.name, document: JSON.stringify(doc), now },
      false,
    );
    if (!created) throw eventsError(EventsCodes.ResourceAlreadyExists, `An api-destination '${input.name}' already exists.`);
    return { arn: doc.Arn, created: now };
  }

  async describeApiDestination(scope: EventsScope, name: string): Promise<{ doc: ApiDestinationDoc; record: EventResourceRecord }> {
    const record = await this.store.get(registryOf(scope), 'api-destination', name);
    if (!record) throw notFound(`Failed to describe the api-destination(s). An api-destination '${name}' does not exist.`);
    return { doc: JSON.parse(record.document) as ApiDestinationDoc, record };
  }

  async deleteApiDestination(scope: EventsScope, name: string): Promise<void> {
    await this.describeApiDestination(scope, name);
    await this.store.delete(registryOf(scope), 'api-destination', name);
  }

  /**
   * HTTPS, or plain HTTP to a loopback address (tests, a local relay) or with eventsAllowHttp:
   * events and credentials must not cross a network in clear by accident.
   */
  private checkEndpoint(endpoint: string, member: string): void {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw eventsError(EventsCodes.Validation, `${member} is not a valid URL.`);
    }
    const refused = (this.opts.reach ?? DEFAULT_REACH).hostRefusal(url.hostname);
    if (refused) throw eventsError(EventsCodes.Validation, `${member} names ${url.hostname}, which Berth does not reach (${refused}; see outboundAllow).`);
    if (url.protocol === 'https:') return;
    if (url.protocol === 'http:' && (this.opts.allowHttp || isLoopbackHost(url.hostname))) return;
    throw eventsError(
      EventsCodes.Validation,
      `${member} must use https:// (http:// is accepted for loopback addresses, or everywhere with the eventsAllowHttp setting).`,
    );
  }

  private async rule(scope: EventsScope, name: string, required: boolean): Promise<RuleDoc | undefined> {
    const r = await this.store.get(registryOf(scope), 'rule', name);
    if (!r && required) throw this.ruleNotFound(name);
    return r && (JSON.parse(r.document) as RuleDoc);
  }

  private ruleNotFound(name: string) {
    return notFound(`Rule ${name} does not exist on EventBus ${DEFAULT_BUS}.`);
  }

  private async list(
    scope: EventsScope,
    kind: EventResourceKind,
    prefix: string | undefined,
    limit: number,
    token: string | undefined,
  ): Promise<Page<EventResourceRecord>> {
    const after = token === undefined ? undefined : decodeToken(token);
    const rows = await this.store.list(registryOf(scope), kind, {
      limit: limit + 1,
      ...(prefix !== undefined && { prefix }),
      ...(after !== undefined && { after }),
    });
    const items = rows.slice(0, limit);
    return { items, ...(rows.length > limit && { nextToken: encodeToken(items.at(-1)!.name) }) };
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith('[') ? host.slice(1, -1) : host;
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

const encodeToken = (after: string) => Buffer.from(JSON.stringify({ after }), 'utf8').toString('base64');

function decodeToken(token: string): string {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { after?: unknown };
    if (typeof v.after === 'string') return v.after;
  } catch {
    // fall through
  }
  throw eventsError(EventsCodes.Validation, 'The NextToken is not valid.');
}
