/**
 * The SigV4 check of the AWS APIs against the real app over real HTTP, for what a signature must
 * and must not let through: requests signed by @smithy/signature-v4, then sent as they were or
 * changed on the way (a header repeated, added or swapped, the body, the date, the scope, the
 * credentials). Every refusal is checked to have done nothing.
 */
import { DescribeRepositoriesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import { ECR_TARGET, signedFetch, type SignedAnswer, type WireRequest } from './helpers/signed-json.js';

const repositoryNames = async (ecr: ECRClient) => ((await ecr.send(new DescribeRepositoriesCommand({}))).repositories ?? []).map((r) => r.repositoryName);

function refusedAs(res: SignedAnswer, type: string, message?: RegExp): void {
  assert.equal(res.json.__type, type, JSON.stringify(res.json));
  assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
  if (message) assert.match(res.json.message ?? '', message);
}

describe('SigV4 over HTTP: repeated headers', () => {
  let berth: BerthInProcess;
  before(async () => {
    berth = await startInProcess();
  });
  after(async () => berth?.cleanup());

  it('verifies a signed header sent several times, its values joined by commas as the spec says', async () => {
    const creds = adminCredentials(berth);
    // The signer signs the joined value; the wire carries one line per value (AWS's get-header-key-duplicate).
    const call = { target: `${ECR_TARGET}CreateRepository`, body: { repositoryName: 'repeated/header' }, headers: { 'my-header1': 'value2,value2,value1' } };
    const res = await signedFetch(berth, creds, call, (w) => ({ ...w, headers: { ...w.headers, 'my-header1': ['value2', 'value2', 'value1'] } }));
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(await repositoryNames(ecrClient(berth)), ['repeated/header']);
  });

  it('refuses a signed request with a header repeated on the way, and does nothing', async () => {
    const creds = adminCredentials(berth);
    const call = { target: `${ECR_TARGET}CreateRepository`, body: { repositoryName: 'repeated/after' } };
    const again = (name: string, value?: string) => (w: WireRequest) => {
      const first = w.headers[name] as string;
      return { ...w, headers: { ...w.headers, [name]: [first, value ?? first] } };
    };
    // node:http keeps only the first Host or Authorization in req.headers: the signature still sees both.
    refusedAs(await signedFetch(berth, creds, call, again('host', 'evil.example')), 'InvalidSignatureException');
    refusedAs(await signedFetch(berth, creds, call, again('host')), 'InvalidSignatureException');
    refusedAs(await signedFetch(berth, creds, call, again('x-amz-date')), 'IncompleteSignatureException', /ISO-8601/);
    refusedAs(await signedFetch(berth, creds, call, again('authorization')), 'IncompleteSignatureException', /^Only one Authorization header is allowed\.$/);
    assert.ok(!(await repositoryNames(ecrClient(berth))).includes('repeated/after'));
  });

  it('refuses an Authorization naming a component twice, or one without a value', async () => {
    const creds = adminCredentials(berth);
    const call = { target: `${ECR_TARGET}CreateRepository`, body: { repositoryName: 'two/credentials' } };
    const auth = (change: (a: string) => string) => (w: WireRequest) => ({
      ...w,
      headers: { ...w.headers, authorization: change(w.headers.authorization as string) },
    });
    const twoKeys = await signedFetch(
      berth,
      creds,
      call,
      auth((a) => `${a}, Credential=AKIAOTHEROTHEROTHER2/${a.split('/')[1]}/us-east-1/ecr/aws4_request`),
    );
    refusedAs(twoKeys, 'IncompleteSignatureException', /^Authorization header has more than one 'Credential' parameter\.$/);
    refusedAs(
      await signedFetch(
        berth,
        creds,
        call,
        auth((a) => `${a}, junk`),
      ),
      'IncompleteSignatureException',
      /'junk' not a valid key=value pair/,
    );
    assert.ok(!(await repositoryNames(ecrClient(berth))).includes('two/credentials'));
  });
});
