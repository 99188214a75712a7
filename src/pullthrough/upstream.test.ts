import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseChallenge } from './upstream.js';
import { upstreamBase, upstreamKindOf } from './rules.js';

describe('WWW-Authenticate challenges', () => {
  it('reads a Bearer challenge with quoted and bare parameters', () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'), {
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' },
    });
    assert.deepEqual(parseChallenge('bearer realm=https://ghcr.io/token, service=ghcr.io'), {
      scheme: 'bearer',
      params: { realm: 'https://ghcr.io/token', service: 'ghcr.io' },
    });
    assert.deepEqual(parseChallenge('Basic realm="upstream"'), { scheme: 'basic', params: { realm: 'upstream' } });
  });

  it('refuses what it cannot follow', () => {
    assert.equal(parseChallenge(null), undefined);
    assert.equal(parseChallenge('Negotiate abc'), undefined);
  });
});

describe('upstream URLs', () => {
  it('is HTTPS unless plain HTTP is loopback or allowed', () => {
    assert.equal(upstreamBase('registry-1.docker.io', false), 'https://registry-1.docker.io');
    assert.equal(upstreamBase('https://quay.io/', false), 'https://quay.io');
    assert.equal(upstreamBase('http://127.0.0.1:5001', false), 'http://127.0.0.1:5001');
    assert.equal(upstreamBase('http://[::1]:5001', false), 'http://[::1]:5001');
    assert.throws(() => upstreamBase('http://registry.example.com', false), /plain HTTP/);
    assert.equal(upstreamBase('http://registry.example.com', true), 'http://registry.example.com');
    for (const bad of ['https://user:pw@host', 'host/path', 'ftp://host', '']) assert.throws(() => upstreamBase(bad, true), /upstreamRegistryUrl/, bad);
  });

  it('names the kinds of upstream ECR knows by host', () => {
    assert.equal(upstreamKindOf('registry-1.docker.io'), 'docker-hub');
    assert.equal(upstreamKindOf('public.ecr.aws'), 'ecr-public');
    assert.equal(upstreamKindOf('123456789012.dkr.ecr.eu-west-1.amazonaws.com'), 'ecr');
    assert.equal(upstreamKindOf('team.azurecr.io'), 'azure-container-registry');
    assert.equal(upstreamKindOf('127.0.0.1:5001'), undefined);
  });
});
