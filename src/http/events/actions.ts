/**
 * The EventBridge actions Berth serves: rules (PutRule, DescribeRule, ListRules, DeleteRule,
 * EnableRule, DisableRule), targets (PutTargets, RemoveTargets, ListTargetsByRule), connections
 * and API destinations. Each validates its body, authorizes `events:<Op>` on the resource's ARN,
 * and calls the domain (events/service.ts). Timestamps are Dates (epoch seconds on the wire).
 */
import { z } from 'zod';
import { EventsCodes } from '../../core/errors.js';
import type { ConnectionDoc, ConnectionPublic, ConnectionSecrets, HttpParameters, TargetDoc } from '../../events/documents.js';
import type { EventBridgeService, EventsScope } from '../../events/service.js';
import type { EventResourceRecord } from '../../metadata/types.js';
import { EcrError } from '../ecr/protocol.js';
import { roleAccountOf } from '../role-session.js';
import { targetRoleProblem } from './target-role.js';
import { busName, httpParameters, integer, limit, list, name, nextToken, oneOf, parseEventsInput, text } from './input.js';

export interface EventsCall {
  events: EventBridgeService;
  body: Record<string, unknown>;
  scope: EventsScope;
  /** Authorizes this operation (`events:<Op>`) on `resource`; rejects with AccessDeniedException. */
  authorize(resource: string): Promise<void>;
  /** Authorizes iam:PassRole on a role the request names for EventBridge to use; rejects with AccessDeniedException. */
  passRole(roleArn: string): Promise<void>;
}

export type EventsAction = (call: EventsCall) => Promise<unknown>;

const ruleName = name(64);
const arnOf = (call: EventsCall, kind: string, n: string) => `arn:aws:events:${call.scope.region}:${call.scope.accountId}:${kind}/${n}`;
const unsupported = (what: string) => new EcrError(EventsCodes.Validation, `Berth's EventBridge does not support ${what}.`);

const PutRuleInput = z.object({
  Name: ruleName,
  EventPattern: text(1, 4096).optional(),
  ScheduleExpression: text(0, 256).optional(),
  State: oneOf(['ENABLED', 'DISABLED', 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS']).optional(),
  Description: text(0, 512).optional(),
  RoleArn: text(1, 1600).optional(),
  Tags: z.array(z.object({ Key: text(1, 128), Value: text(0, 256) })).optional(),
  EventBusName: busName,
});

const PutRule: EventsAction = async (call) => {
  const input = parseEventsInput(PutRuleInput, call.body);
  call.events.checkBus(call.scope, input.EventBusName);
  if (input.ScheduleExpression !== undefined && input.ScheduleExpression !== '') throw unsupported('scheduled rules');
  if (input.EventPattern === undefined) throw new EcrError(EventsCodes.Validation, 'Parameter EventPattern is not valid.');
  if (input.Tags !== undefined && input.Tags.length > 0) throw unsupported('tags on rules yet');
  await call.authorize(call.events.ruleArn(call.scope, input.Name));
  // "The IAM role associated with the rule": EventBridge uses it for an event bus target of
  // another account, which Berth does not serve, so it is kept and shown, never used. Naming it
  // passes it to EventBridge all the same, as a target's role: a role of the account, and
  // iam:PassRole (refused, the rule is not put).
  if (input.RoleArn !== undefined) {
    if (roleAccountOf(input.RoleArn) !== call.scope.accountId) {
      throw new EcrError(EventsCodes.Validation, `RoleArn ${input.RoleArn.slice(0, 256)} is not a role of this account.`);
    }
    await call.passRole(input.RoleArn);
  }
  const arn = await call.events.putRule(call.scope, {
    name: input.Name,
    eventPattern: input.EventPattern,
    ...(input.State !== undefined && { state: input.State === 'DISABLED' ? 'DISABLED' : 'ENABLED' }),
    ...(input.Description !== undefined && { description: input.Description }),
    ...(input.RoleArn !== undefined && { roleArn: input.RoleArn }),
  });
  return { RuleArn: arn };
};

const RuleInput = z.object({ Name: ruleName, EventBusName: busName });

const ruleShape = (r: { Name: string; Arn: string; EventPattern: string; State: string; Description?: string; RoleArn?: string }) => ({
  Name: r.Name,
  Arn: r.Arn,
  EventPattern: r.EventPattern,
  State: r.State,
  ...(r.Description !== undefined && { Description: r.Description }),
  ...(r.RoleArn !== undefined && { RoleArn: r.RoleArn }),
  EventBusName: 'default',
});

const DescribeRule: EventsAction = async (call) => {
  const input = parseEventsInput(RuleInput, call.body);
  call.events.checkBus(call.scope, input.EventBusName);
  await call.authorize(call.events.ruleArn(call.scope, input.Name));
  const rule = await call.events.describeRule(call.scope, input.Name);
  return { ...ruleShape(rule), CreatedBy: call.scope.accountId };
};

const ListRules: EventsAction = async (call) => {
  const input = parseEventsInput(z.object({ NamePrefix: text(1, 64).optional(), EventBusName: busName, NextToken: nextToken, Limit: limit }), call.body);
  call.events.checkBus(call.scope, input.EventBusName);
  await call.authorize(arnOf(call, 'rule', '*'));
  const page = await call.events.listRules(call.scope, input.NamePrefix, input.Limit ?? 100, input.NextToken);
  return { Rules: page.items.map(ruleShape), ...(page.nextToken !== undefined && { NextToken: page.nextToken }) };
};

const DeleteRule: EventsAction = async (call) => {
  const input = parseEventsInput(RuleInput.extend({ Force: z.boolean().optional() }), call.body);
  call.events.checkBus(call.scope, input.EventBusName);
  await call.authorize(call.events.ruleArn(call.scope, input.Name));
  await call.events.deleteRule(call.scope, input.Name, input.Force ?? false);
  return {};
};

const setState =
  (state: 'ENABLED' | 'DISABLED'): EventsAction =>
  async (call) => {
    const input = parseEventsInput(RuleInput, call.body);
    call.events.checkBus(call.scope, input.EventBusName);
    await call.authorize(call.events.ruleArn(call.scope, input.Name));
    await call.events.setRuleState(call.scope, input.Name, state);
    return {};
  };

const TargetInput = z.object({
  Id: name(64),
  Arn: text(1, 1600),
  RoleArn: text(1, 1600).optional(),
  Input: text(0, 8192).optional(),
  InputPath: text(0, 256).optional(),
  InputTransformer: z.unknown().optional(),
  HttpParameters: z
    .object({
      HeaderParameters: z.record(z.string(), z.string()).optional(),
      QueryStringParameters: z.record(z.string(), z.string()).optional(),
      PathParameterValues: z.array(z.string()).optional(),
    })
    .optional(),
});

const PutTargets: EventsAction = async (call) => {
  const input = parseEventsInput(
    z.object({
      Rule: ruleName,
      EventBusName: busName,
      Targets: list(TargetInput, 1, 10),
    }),
    call.body,
  );
  call.events.checkBus(call.scope, input.EventBusName);
  await call.authorize(call.events.ruleArn(call.scope, input.Rule));
  const failed: Array<{ TargetId: string; ErrorCode: string; ErrorMessage: string }> = [];
  const targets: TargetDoc[] = [];
  for (const t of input.Targets) {
    if (t.InputPath !== undefined || t.InputTransformer !== undefined || t.HttpParameters?.PathParameterValues !== undefined) {
      failed.push({
        TargetId: t.Id,
        ErrorCode: EventsCodes.Validation.code,
        ErrorMessage: 'Berth supports Input, not InputPath, InputTransformer or path parameters.',
      });
      continue;
    }
    const roleProblem = isApiDestinationArn(t.Arn) ? targetRoleProblem(t.RoleArn, call.scope.accountId) : undefined;
    if (roleProblem) {
      failed.push({ TargetId: t.Id, ErrorCode: EventsCodes.Validation.code, ErrorMessage: roleProblem });
      continue;
    }
    const http: HttpParameters = {
      ...(t.HttpParameters?.HeaderParameters && {
        HeaderParameters: Object.entries(t.HttpParameters.HeaderParameters).map(([Key, Value]) => ({ Key, Value })),
      }),
      ...(t.HttpParameters?.QueryStringParameters && {
        QueryStringParameters: Object.entries(t.HttpParameters.QueryStringParameters).map(([Key, Value]) => ({ Key, Value })),
      }),
    };
    targets.push({
      Id: t.Id,
      Arn: t.Arn,
      ...(t.RoleArn !== undefined && { RoleArn: t.RoleArn }),
      ...(t.Input !== undefined && { Input: t.Input }),
      ...(Object.keys(http).length > 0 && { HttpParameters: http }),
    });
  }
  // Whoever names a role for EventBridge passes it to EventBridge: refused, the call changes nothing.
  for (const role of new Set(targets.flatMap((t) => (t.RoleArn === undefined ? [] : [t.RoleArn])))) await call.passRole(role);
  failed.push(...(await call.events.putTargets(call.scope, input.Rule, targets)));
  return { FailedEntryCount: failed.length, FailedEntries: failed };
};

const RemoveTargets: EventsAction = async (call) => {
  const input = parseEventsInput(
    z.object({ Rule: ruleName, EventBusName: busName, Ids: z.array(name(64)).min(1).max(100), Force: z.boolean().optional() }),
    call.body,
  );
  call.events.checkBus(call.scope, input.EventBusName);
  await call.authorize(call.events.ruleArn(call.scope, input.Rule));
  const failed = await call.events.removeTargets(call.scope, input.Rule, input.Ids);
  return { FailedEntryCount: failed.length, FailedEntries: failed };
};

const ListTargetsByRule: EventsAction = async (call) => {
  const input = parseEventsInput(z.object({ Rule: ruleName, EventBusName: busName, NextToken: nextToken, Limit: limit }), call.body);
  call.events.checkBus(call.scope, input.EventBusName);
  await call.authorize(call.events.ruleArn(call.scope, input.Rule));
  const page = await call.events.listTargets(call.scope, input.Rule, input.Limit ?? 100, input.NextToken);
  const targets = page.items.map((t) => {
    const { HttpParameters: http, ...rest } = t;
    return {
      ...rest,
      ...(http && {
        HttpParameters: {
          ...(http.HeaderParameters && { HeaderParameters: Object.fromEntries(http.HeaderParameters.map((p) => [p.Key, p.Value])) }),
          ...(http.QueryStringParameters && { QueryStringParameters: Object.fromEntries(http.QueryStringParameters.map((p) => [p.Key, p.Value])) }),
        },
      }),
    };
  });
  return { Targets: targets, ...(page.nextToken !== undefined && { NextToken: page.nextToken }) };
};

const secretText = (max: number) => text(1, max);
const CreateConnectionInput = z.object({
  Name: name(64),
  Description: text(0, 512).optional(),
  AuthorizationType: oneOf(['BASIC', 'OAUTH_CLIENT_CREDENTIALS', 'API_KEY']),
  AuthParameters: z.object({
    BasicAuthParameters: z.object({ Username: text(1, 512), Password: secretText(512) }).optional(),
    ApiKeyAuthParameters: z.object({ ApiKeyName: text(1, 512), ApiKeyValue: secretText(512) }).optional(),
    OAuthParameters: z
      .object({
        ClientParameters: z.object({ ClientID: text(1, 512), ClientSecret: secretText(512) }),
        AuthorizationEndpoint: text(1, 2048),
        HttpMethod: oneOf(['GET', 'POST', 'PUT']),
        OAuthHttpParameters: httpParameters,
      })
      .optional(),
    InvocationHttpParameters: httpParameters,
  }),
});

const CreateConnection: EventsAction = async (call) => {
  const input = parseEventsInput(CreateConnectionInput, call.body);
  const auth = input.AuthParameters;
  const given = { BASIC: auth.BasicAuthParameters, API_KEY: auth.ApiKeyAuthParameters, OAUTH_CLIENT_CREDENTIALS: auth.OAuthParameters }[
    input.AuthorizationType
  ];
  if (!given) throw new EcrError(EventsCodes.Validation, `The AuthParameters for AuthorizationType ${input.AuthorizationType} are missing.`);
  if (hasSecretParameters(auth.InvocationHttpParameters) || hasSecretParameters(auth.OAuthParameters?.OAuthHttpParameters)) {
    throw unsupported('secret (IsValueSecret) invocation parameters yet');
  }
  const pub: ConnectionPublic = {};
  const secrets: ConnectionSecrets = {};
  if (input.AuthorizationType === 'BASIC') {
    pub.Username = auth.BasicAuthParameters!.Username;
    secrets.password = auth.BasicAuthParameters!.Password;
  } else if (input.AuthorizationType === 'API_KEY') {
    pub.ApiKeyName = auth.ApiKeyAuthParameters!.ApiKeyName;
    secrets.apiKeyValue = auth.ApiKeyAuthParameters!.ApiKeyValue;
  } else {
    const o = auth.OAuthParameters!;
    pub.ClientID = o.ClientParameters.ClientID;
    pub.AuthorizationEndpoint = o.AuthorizationEndpoint;
    pub.HttpMethod = o.HttpMethod;
    if (o.OAuthHttpParameters) pub.OAuthHttpParameters = o.OAuthHttpParameters;
    secrets.clientSecret = o.ClientParameters.ClientSecret;
  }
  if (auth.InvocationHttpParameters) pub.InvocationHttpParameters = auth.InvocationHttpParameters;
  await call.authorize(arnOf(call, 'connection', `${input.Name}/*`));
  const { arn, created } = await call.events.createConnection(call.scope, {
    name: input.Name,
    ...(input.Description !== undefined && { description: input.Description }),
    authorizationType: input.AuthorizationType,
    public: pub,
    secrets,
  });
  return { ConnectionArn: arn, ConnectionState: 'AUTHORIZED', CreationTime: created, LastModifiedTime: created };
};

function hasSecretParameters(p: HttpParameters | undefined): boolean {
  return [p?.HeaderParameters, p?.QueryStringParameters, p?.BodyParameters].some((list) => list?.some((x) => x.IsValueSecret === true) ?? false);
}

const times = (r: EventResourceRecord) => ({ CreationTime: r.createdAt, LastModifiedTime: r.updatedAt });

/** A connection as DescribeConnection shows it: every secret left out. */
function connectionShape(name: string, doc: ConnectionDoc, record: EventResourceRecord) {
  const p = doc.Public;
  return {
    ConnectionArn: doc.Arn,
    Name: name,
    ...(doc.Description !== undefined && { Description: doc.Description }),
    ConnectionState: 'AUTHORIZED',
    AuthorizationType: doc.AuthorizationType,
    AuthParameters: {
      ...(doc.AuthorizationType === 'BASIC' && { BasicAuthParameters: { Username: p.Username } }),
      ...(doc.AuthorizationType === 'API_KEY' && { ApiKeyAuthParameters: { ApiKeyName: p.ApiKeyName } }),
      ...(doc.AuthorizationType === 'OAUTH_CLIENT_CREDENTIALS' && {
        OAuthParameters: {
          ClientParameters: { ClientID: p.ClientID },
          AuthorizationEndpoint: p.AuthorizationEndpoint,
          HttpMethod: p.HttpMethod,
          ...(p.OAuthHttpParameters && { OAuthHttpParameters: p.OAuthHttpParameters }),
        },
      }),
      ...(p.InvocationHttpParameters && { InvocationHttpParameters: p.InvocationHttpParameters }),
    },
    ...times(record),
    LastAuthorizedTime: record.createdAt,
  };
}

const NameInput = z.object({ Name: name(64) });

const DescribeConnection: EventsAction = async (call) => {
  const input = parseEventsInput(NameInput, call.body);
  const { doc, record } = await call.events.describeConnection(call.scope, input.Name);
  await call.authorize(doc.Arn);
  return connectionShape(input.Name, doc, record);
};

const DeleteConnection: EventsAction = async (call) => {
  const input = parseEventsInput(NameInput, call.body);
  const { doc } = await call.events.describeConnection(call.scope, input.Name);
  await call.authorize(doc.Arn);
  const { record } = await call.events.deleteConnection(call.scope, input.Name);
  return { ConnectionArn: doc.Arn, ConnectionState: 'DELETING', ...times(record), LastAuthorizedTime: record.createdAt };
};

const CreateApiDestinationInput = z.object({
  Name: name(64),
  Description: text(0, 512).optional(),
  ConnectionArn: text(1, 1600),
  InvocationEndpoint: text(1, 2048),
  HttpMethod: oneOf(['POST', 'GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'DELETE']),
  InvocationRateLimitPerSecond: integer(1, 300).optional(),
});

const CreateApiDestination: EventsAction = async (call) => {
  const input = parseEventsInput(CreateApiDestinationInput, call.body);
  await call.authorize(arnOf(call, 'api-destination', `${input.Name}/*`));
  const { arn, created } = await call.events.createApiDestination(call.scope, {
    name: input.Name,
    ...(input.Description !== undefined && { description: input.Description }),
    connectionArn: input.ConnectionArn,
    endpoint: input.InvocationEndpoint,
    method: input.HttpMethod,
    rateLimit: input.InvocationRateLimitPerSecond ?? 300,
  });
  return { ApiDestinationArn: arn, ApiDestinationState: 'ACTIVE', CreationTime: created, LastModifiedTime: created };
};

const DescribeApiDestination: EventsAction = async (call) => {
  const input = parseEventsInput(NameInput, call.body);
  const { doc, record } = await call.events.describeApiDestination(call.scope, input.Name);
  await call.authorize(doc.Arn);
  return {
    ApiDestinationArn: doc.Arn,
    Name: input.Name,
    ...(doc.Description !== undefined && { Description: doc.Description }),
    ApiDestinationState: 'ACTIVE',
    ConnectionArn: doc.ConnectionArn,
    InvocationEndpoint: doc.InvocationEndpoint,
    HttpMethod: doc.HttpMethod,
    InvocationRateLimitPerSecond: doc.InvocationRateLimitPerSecond,
    ...times(record),
  };
};

const DeleteApiDestination: EventsAction = async (call) => {
  const input = parseEventsInput(NameInput, call.body);
  const { doc } = await call.events.describeApiDestination(call.scope, input.Name);
  await call.authorize(doc.Arn);
  await call.events.deleteApiDestination(call.scope, input.Name);
  return {};
};

export const ACTIONS: Record<string, EventsAction> = {
  PutRule,
  DescribeRule,
  ListRules,
  DeleteRule,
  EnableRule: setState('ENABLED'),
  DisableRule: setState('DISABLED'),
  PutTargets,
  RemoveTargets,
  ListTargetsByRule,
  CreateConnection,
  DescribeConnection,
  DeleteConnection,
  CreateApiDestination,
  DescribeApiDestination,
  DeleteApiDestination,
};

function isApiDestinationArn(arn: string): boolean {
  return /^arn:aws[a-z-]*:events:[^:]*:\d{12}:api-destination\//.test(arn);
}
