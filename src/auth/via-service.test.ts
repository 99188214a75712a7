import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { verifyViaService, viaServiceProof, type ViaServiceRequest } from './via-service.js';

const key = randomBytes(32);
const req: ViaServiceRequest = { operation: 'Decrypt', region: 'us-east-1', body: '{"CiphertextBlob":"AAAA"}' };
const at = new Date('2026-12-07T12:00:00Z');
const later = (ms: number) => new Date(at.getTime() + ms);

describe('via-service proofs', () => {
  const proof = viaServiceProof('ecr', req, { now: at, key });

  it('names the service for the request it was made for, under the key, until it expires', () => {
    assert.equal(verifyViaService(proof, req, { now: at, keys: [randomBytes(32), key] }), 'ecr');
    assert.equal(verifyViaService(proof, req, { now: later(5 * 60 * 1000 - 1), keys: [key] }), 'ecr');
    assert.equal(verifyViaService(proof, req, { now: later(5 * 60 * 1000), keys: [key] }), undefined, 'expired');
  });

  it('proves nothing for another request, under another key, or altered', () => {
    const verify = (header: string | undefined, r = req) => verifyViaService(header, r, { now: at, keys: [key] });
    assert.equal(verify(proof, { ...req, operation: 'Encrypt' }), undefined);
    assert.equal(verify(proof, { ...req, region: 'eu-west-1' }), undefined);
    assert.equal(verify(proof, { ...req, body: Buffer.from('{"CiphertextBlob":"AAAB"}') }), undefined);
    assert.equal(verify(proof, { ...req, body: Buffer.from(req.body as string) }), 'ecr', 'the same bytes, as a Buffer');
    assert.equal(verifyViaService(proof, req, { now: at, keys: [randomBytes(32)] }), undefined);
    const [v, kid, claims, mac] = proof.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(claims!, 'base64url').toString()), s: 'secretsmanager' })).toString('base64url');
    assert.equal(verify([v, kid, forged, mac].join('.')), undefined);
    for (const bad of [undefined, '', 'v1', `${proof}.x`, `v2.${kid}.${claims}.${mac}`, 'x'.repeat(2000)]) assert.equal(verify(bad), undefined);
  });
});
