import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostOfImage, hostOfServerUrl, kubeletAnswer, parseKubeletRequest } from './protocol.js';

describe('credential-helper protocol', () => {
  it('reads the host of every server URL form clients send', () => {
    assert.equal(hostOfServerUrl('registry.example:5000\n'), 'registry.example:5000');
    assert.equal(hostOfServerUrl('https://111122223333.registry.example/v1/'), '111122223333.registry.example');
    assert.equal(hostOfServerUrl('http://localhost:5000'), 'localhost:5000');
    for (const bad of ['', '   ', 'https://user:pw@host', 'x'.repeat(3000), 'http://']) assert.throws(() => hostOfServerUrl(bad), /server URL/, bad);
  });
  it('reads the registry host of an image, refusing references that name none', () => {
    assert.equal(hostOfImage('registry.example:5000/team/web:v1'), 'registry.example:5000');
    assert.equal(hostOfImage('localhost/app@sha256:abc'), 'localhost');
    for (const bad of ['team/web:v1', 'web', '']) assert.throws(() => hostOfImage(bad), /names no registry host/, bad);
  });
  it('answers the kubelet in its own apiVersion, caching until the refresh margin', () => {
    const req = parseKubeletRequest('{"apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","kind":"CredentialProviderRequest","image":"r.example/a:1"}');
    const now = new Date(0);
    const answer = JSON.parse(kubeletAnswer(req, 'r.example', { username: 'AWS', password: 'p', expiresAt: new Date(3_723_000 + 300_000) }, now, 300_000));
    assert.deepEqual(answer, {
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1beta1',
      kind: 'CredentialProviderResponse',
      cacheKeyType: 'Registry',
      cacheDuration: '1h2m3s',
      auth: { 'r.example': { username: 'AWS', password: 'p' } },
    });
    assert.throws(() => parseKubeletRequest('{"apiVersion":"v9","kind":"CredentialProviderRequest","image":"a/b"}'), /unsupported apiVersion/);
    assert.throws(() => parseKubeletRequest('nope'), /expected a CredentialProviderRequest/);
  });
});
