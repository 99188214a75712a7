import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HIDDEN, redactParameters } from './cloudtrail-record.js';

describe('recorded parameters', () => {
  it('hide every credential of an EventBridge connection, wherever it nests', () => {
    const recorded = redactParameters({
      Name: 'hook',
      AuthorizationType: 'API_KEY',
      AuthParameters: {
        ApiKeyAuthParameters: { ApiKeyName: 'x-api-key', ApiKeyValue: 'key-123' },
        BasicAuthParameters: { Username: 'u', Password: 'pw-123' },
        OAuthParameters: { ClientParameters: { ClientID: 'id', ClientSecret: 'cs-123' }, AuthorizationEndpoint: 'https://auth.example' },
      },
    });
    const text = JSON.stringify(recorded);
    for (const secret of ['key-123', 'pw-123', 'cs-123']) assert.ok(!text.includes(secret), `${secret} is recorded`);
    assert.equal((recorded!.authParameters as { apiKeyAuthParameters: { apiKeyValue: string } }).apiKeyAuthParameters.apiKeyValue, HIDDEN);
    // What is not a secret is kept: a reader can tell which connection and which header.
    assert.ok(text.includes('x-api-key') && text.includes('hook'));
  });

  it("keep a secret's name (SecretId) while hiding its value, as CloudTrail does", () => {
    const recorded = redactParameters({ SecretId: 'ecr-pullthroughcache/hub', SecretString: 'hunter2', ClientSecret: 'cs' });
    assert.deepEqual(recorded, { secretId: 'ecr-pullthroughcache/hub', secretString: HIDDEN, clientSecret: HIDDEN });
  });
});
