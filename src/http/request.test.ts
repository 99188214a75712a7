import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegistryError } from '../core/errors.js';
import { parseChunkRange, parseRange } from './request.js';
import { parseOciRoute } from './oci/route.js';
import { noteOciOperation } from './oci/router.js';
import { beginRequest, factsOf } from './request-facts.js';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';

describe('parseRange', () => {
  it('handles closed, open and suffix ranges', () => {
    assert.deepEqual(parseRange('bytes=0-0', 10), { start: 0, end: 0 });
    assert.deepEqual(parseRange('bytes=2-', 10), { start: 2, end: 9 });
    assert.deepEqual(parseRange('bytes=5-100', 10), { start: 5, end: 9 });
    assert.deepEqual(parseRange('bytes=-3', 10), { start: 7, end: 9 });
    assert.deepEqual(parseRange('bytes=-30', 10), { start: 0, end: 9 });
  });
  it('says unsatisfiable past the end', () => {
    assert.equal(parseRange('bytes=10-', 10), 'unsatisfiable');
    assert.equal(parseRange('bytes=4-2', 10), 'unsatisfiable');
    assert.equal(parseRange('bytes=-0', 10), 'unsatisfiable');
  });
  it('ignores what it cannot parse, as RFC 9110 allows', () => {
    assert.equal(parseRange(undefined, 10), undefined);
    assert.equal(parseRange('bytes=0-1,3-4', 10), undefined);
    assert.equal(parseRange('items=0-1', 10), undefined);
  });
});

describe('parseChunkRange', () => {
  it('accepts the forms clients send', () => {
    assert.deepEqual(parseChunkRange('0-99'), { start: 0, end: 99 });
    assert.deepEqual(parseChunkRange('bytes=100-199'), { start: 100, end: 199 });
    assert.deepEqual(parseChunkRange('bytes 100-199/*'), { start: 100, end: 199 });
  });
  it('refuses malformed ranges', () => {
    for (const bad of ['', 'abc', '5-1', '-5', '1-']) {
      assert.throws(
        () => parseChunkRange(bad),
        (e: unknown) => e instanceof RegistryError && e.code.oci === 'BLOB_UPLOAD_INVALID',
      );
    }
  });
});

describe('parseOciRoute', () => {
  it('recognises routes from the end so names may hold slashes', () => {
    assert.deepEqual(parseOciRoute('a/b/c/manifests/v1'), { kind: 'manifest', name: 'a/b/c', reference: 'v1' });
    assert.deepEqual(parseOciRoute('a/blobs/uploads/'), { kind: 'uploads', name: 'a' });
    assert.deepEqual(parseOciRoute('a/blobs/uploads/x'), { kind: 'upload', name: 'a', id: 'x' });
    assert.deepEqual(parseOciRoute('a/blobs/sha256%3Aab'), { kind: 'blob', name: 'a', digest: 'sha256:ab' });
    assert.deepEqual(parseOciRoute('x/manifests/tags/list'), { kind: 'tags', name: 'x/manifests' });
    assert.deepEqual(parseOciRoute(''), { kind: 'base' });
    assert.deepEqual(parseOciRoute('_catalog'), { kind: 'catalog' });
    assert.equal(parseOciRoute('nothing-here'), undefined);
  });
  it('refuses malformed percent-encoding as NAME_INVALID', () => {
    assert.throws(
      () => parseOciRoute('a%zz/tags/list'),
      (e: unknown) => e instanceof RegistryError && e.code.oci === 'NAME_INVALID',
    );
  });
});

describe('noteOciOperation', () => {
  it('returns the route it noted, so the router parses a /v2 path once', () => {
    const req = new IncomingMessage(new Socket());
    req.method = 'GET';
    beginRequest(req, new ServerResponse(req), [{ countsBytes: false, requestClosed: () => undefined }]);
    const route = noteOciOperation(req, 'team/web/manifests/v1');
    assert.deepEqual(route, { kind: 'manifest', name: 'team/web', reference: 'v1' });
    assert.deepEqual(factsOf(req)?.params, { name: 'team/web', reference: 'v1' });
    assert.equal(factsOf(req)?.resource, 'team/web');
    assert.deepEqual(factsOf(req)?.operation, { api: 'oci', name: 'manifest-read' });
  });
});
