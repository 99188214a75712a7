/**
 * The stored shapes of EventBridge resources (event_resources.document, event_targets.document)
 * and their ARNs. Connection secrets are kept sealed (under the server key, by the composition
 * root's SecretBox) and are never returned by an API or logged.
 */

export const DEFAULT_BUS = 'default';

export interface RuleDoc {
  Arn: string;
  EventPattern: string;
  State: 'ENABLED' | 'DISABLED';
  Description?: string;
  RoleArn?: string;
}

export type AuthorizationType = 'API_KEY' | 'BASIC' | 'OAUTH_CLIENT_CREDENTIALS';

/** The secret half of a connection's authorization, sealed as JSON. */
export interface ConnectionSecrets {
  password?: string;
  apiKeyValue?: string;
  clientSecret?: string;
}

/** A connection's parameters that may be shown (DescribeConnection) and sent as given. */
export interface ConnectionPublic {
  Username?: string;
  ApiKeyName?: string;
  ClientID?: string;
  AuthorizationEndpoint?: string;
  HttpMethod?: string;
  /** OAuth's extra body/query/header parameters for the token request, non-secret ones only. */
  OAuthHttpParameters?: HttpParameters;
  InvocationHttpParameters?: HttpParameters;
}

export interface HttpParameters {
  HeaderParameters?: Array<{ Key: string; Value: string; IsValueSecret?: boolean }>;
  QueryStringParameters?: Array<{ Key: string; Value: string; IsValueSecret?: boolean }>;
  BodyParameters?: Array<{ Key: string; Value: string; IsValueSecret?: boolean }>;
}

export interface ConnectionDoc {
  Arn: string;
  Description?: string;
  AuthorizationType: AuthorizationType;
  Public: ConnectionPublic;
  /** ConnectionSecrets, sealed. */
  Sealed: string;
}

export interface ApiDestinationDoc {
  Arn: string;
  Description?: string;
  ConnectionArn: string;
  InvocationEndpoint: string;
  HttpMethod: string;
  InvocationRateLimitPerSecond: number;
}

export interface TargetDoc {
  Id: string;
  Arn: string;
  RoleArn?: string;
  /** A constant JSON text delivered instead of the event. */
  Input?: string;
  HttpParameters?: HttpParameters;
}

export const ruleArn = (region: string, account: string, name: string): string => `arn:aws:events:${region}:${account}:rule/${name}`;
export const connectionArn = (region: string, account: string, name: string, uuid: string): string =>
  `arn:aws:events:${region}:${account}:connection/${name}/${uuid}`;
export const apiDestinationArn = (region: string, account: string, name: string, uuid: string): string =>
  `arn:aws:events:${region}:${account}:api-destination/${name}/${uuid}`;

const RESOURCE_ARN = /^arn:aws:events:([a-z0-9-]+):(\d{12}):(connection|api-destination)\/([.\-_A-Za-z0-9]+)\/[0-9a-f-]+$/;

/** The name of a connection or API destination ARN of this account and region, if it is one. */
export function nameInArn(arn: string, kind: 'connection' | 'api-destination', region: string, account: string): string | undefined {
  const m = RESOURCE_ARN.exec(arn);
  return m && m[1] === region && m[2] === account && m[3] === kind ? m[4] : undefined;
}
