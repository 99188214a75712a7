/**
 * The AWS managed key `alias/aws/ecr` is used only through ECR, as its key policy in AWS says
 * (kms:ViaService `ecr.<region>.amazonaws.com`, kms:CallerAccount): a direct Encrypt, Decrypt or
 * GenerateDataKey is AccessDeniedException whatever the caller's IAM policies allow, the root's
 * included, while its metadata stays readable through IAM. Another Berth's ECR (kmsProvider
 * 'aws', sharing the server key) proves a request is its own with x-berth-via-service, and that
 * is the use the key allows; a proof under another key, or for another body, proves nothing.
 * Real `@aws-sdk/client-kms` against an in-process Berth. (The other node's whole path, pushes
 * and pulls under this key, is in test/e2e/kms-api.test.ts.)
 */
import { IAMClient } from '@aws-sdk/client-iam';
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GetKeyPolicyCommand,
  KMSClient,
} from '@aws-sdk/client-kms';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { VIA_SERVICE_HEADER, viaServiceProof } from '../../src/auth/via-service.js';
import { adminCredentials } from '../e2e/helpers/ecr-client.js';
import { createUser } from '../e2e/helpers/iam-users.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';
import type { Credentials } from './helpers/temporary-credentials.js';

const MANAGED = 'alias/aws/ecr';
const KMS_ALL = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] };

describe('the AWS managed key aws/ecr is used only through ECR', () => {
  const serverKey = randomBytes(32);
  let berth: BerthInProcess;
  let root: KMSClient;
  let user: Credentials;

  /**
   * A KMS client; with `proofKey`, each request carries a via-service proof made under it (for
   * `ecr`), over the body it sends or over `provedBody` (a proof made for another request).
   */
  const kmsClient = (credentials: Credentials, proofKey?: Buffer, provedBody?: string) => {
    const c = new KMSClient({ endpoint: berth.url, region: berth.region, credentials, maxAttempts: 1 });
    if (proofKey) {
      c.middlewareStack.add(
        (next) => async (args) => {
          const r = args.request as { headers: Record<string, string>; body: string };
          const operation = r.headers['x-amz-target']!.slice('TrentService.'.length);
          r.headers[VIA_SERVICE_HEADER] = viaServiceProof(
            'ecr',
            { operation, region: berth.region, body: provedBody ?? r.body },
            { now: new Date(), key: proofKey },
          );
          return next(args);
        },
        { step: 'build', name: 'viaService' },
      );
    }
    return c;
  };
  const refusedByKeyPolicy = (op: string) => (e: Error) => {
    assert.equal(e.name, 'AccessDeniedException', e.message);
    assert.match(
      e.message,
      new RegExp(`is not authorized to perform: kms:${op} on resource: arn:aws:kms:.*because no resource-based policy allows the kms:${op} action`),
    );
    return true;
  };

  before(async () => {
    berth = await startInProcess({ env: { BERTH_SERVER_KEY: serverKey.toString('base64') } });
    root = kmsClient(adminCredentials(berth));
    const iam = new IAMClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    user = (await createUser(berth, iam, 'crypto', [], [KMS_ALL])).keys;
  });
  after(async () => {
    await berth?.cleanup();
  });

  it('refuses direct Encrypt, GenerateDataKey and Decrypt, to a user allowed kms:* and to the root', async () => {
    const ecrUse = kmsClient(adminCredentials(berth), serverKey);
    const sealed = (await ecrUse.send(new EncryptCommand({ KeyId: MANAGED, Plaintext: Buffer.from('blob key') }))).CiphertextBlob!;
    for (const kms of [kmsClient(user), root]) {
      await assert.rejects(kms.send(new EncryptCommand({ KeyId: MANAGED, Plaintext: Buffer.from('x') })), refusedByKeyPolicy('Encrypt'));
      await assert.rejects(kms.send(new GenerateDataKeyCommand({ KeyId: MANAGED, KeySpec: 'AES_256' })), refusedByKeyPolicy('GenerateDataKey'));
      await assert.rejects(
        kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: MANAGED, KeySpec: 'AES_256' })),
        refusedByKeyPolicy('GenerateDataKeyWithoutPlaintext'),
      );
      await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: sealed })), refusedByKeyPolicy('Decrypt'));
      // Its metadata is the account's, through IAM, as the key policy's second statement says.
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: MANAGED }))).KeyMetadata?.KeyManager, 'AWS');
    }
    // A customer key is the caller's IAM policies' to judge, as before.
    const { KeyMetadata: mine } = await root.send(new CreateKeyCommand({}));
    const blob = (await kmsClient(user).send(new EncryptCommand({ KeyId: mine!.KeyId, Plaintext: Buffer.from('ok') }))).CiphertextBlob!;
    assert.equal(Buffer.from((await kmsClient(user).send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString(), 'ok');
  });

  it("allows ECR's own use, proven under the shared server key, and only for the request proven", async () => {
    const ecrUse = kmsClient(user, serverKey);
    const { CiphertextBlob: sealed, Plaintext: plain } = await ecrUse.send(new GenerateDataKeyCommand({ KeyId: MANAGED, KeySpec: 'AES_256' }));
    assert.deepEqual((await ecrUse.send(new DecryptCommand({ CiphertextBlob: sealed! }))).Plaintext, plain);

    await assert.rejects(kmsClient(user, randomBytes(32)).send(new DecryptCommand({ CiphertextBlob: sealed! })), refusedByKeyPolicy('Decrypt'));
    const otherBody = JSON.stringify({ KeyId: MANAGED, KeySpec: 'AES_128' });
    await assert.rejects(
      kmsClient(user, serverKey, otherBody).send(new GenerateDataKeyCommand({ KeyId: MANAGED, KeySpec: 'AES_256' })),
      refusedByKeyPolicy('GenerateDataKey'),
    );
  });

  it('GetKeyPolicy shows the managed key policy: use through ECR, metadata to the account', async () => {
    const { Policy: text } = await root.send(new GetKeyPolicyCommand({ KeyId: MANAGED, PolicyName: 'default' }));
    const policy = JSON.parse(text!) as {
      Statement: Array<{ Principal: { AWS: string }; Action: string[]; Condition?: Record<string, Record<string, string>> }>;
    };
    const [via, metadata] = policy.Statement;
    assert.equal(via!.Principal.AWS, '*');
    assert.deepEqual(via!.Condition?.StringEquals, { 'kms:CallerAccount': '000000000000', 'kms:ViaService': `ecr.${berth.region}.amazonaws.com` });
    assert.ok(via!.Action.includes('kms:Decrypt'));
    assert.equal(metadata!.Principal.AWS, 'arn:aws:iam::000000000000:root');
    assert.ok(!metadata!.Action.some((a) => /Encrypt|Decrypt|GenerateDataKey/.test(a)));
  });
});
