/**
 * KMS's and Secrets Manager's rules beyond their service models (a key policy named `default`,
 * symmetric algorithms only, an alias's target a key, a secret name's characters), refused
 * through the SDKs in the same words as before they were model-layer rules, changing nothing;
 * and a model constraint broken beside a rule is the one refused.
 */
import { CreateAliasCommand, CreateKeyCommand, EncryptCommand, GetKeyPolicyCommand, KMSClient, ListAliasesCommand } from '@aws-sdk/client-kms';
import { CreateSecretCommand, ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminCredentials } from '../e2e/helpers/ecr-client.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

/** A ValidationException with exactly this message. */
const validation = (message: string) => (e: Error) => {
  assert.equal(e.name, 'ValidationException');
  assert.equal(e.message, message);
  return true;
};
const rule = (member: string, why: string) => `1 validation error detected: Value at '${member}' failed to satisfy constraint: ${why}`;

describe("KMS's and Secrets Manager's own rules", () => {
  let berth: BerthInProcess;
  let kms: KMSClient;
  let keyId: string;

  before(async () => {
    berth = await startInProcess();
    kms = new KMSClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  });
  after(async () => berth?.cleanup());

  it('KMS: a key policy other than default, an asymmetric algorithm, an alias as an alias target', async () => {
    await assert.rejects(
      kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'other' })),
      validation(rule('policyName', "Member must be 'default', the only key policy name")),
    );
    assert.equal((await kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }))).PolicyName, 'default');
    const plaintext = Buffer.from('x');
    await assert.rejects(
      kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })),
      validation(rule('encryptionAlgorithm', "Berth's keys are symmetric: Member must be SYMMETRIC_DEFAULT")),
    );
    // The model's bound on the plaintext is refused before the rule.
    await assert.rejects(
      kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(4097), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })),
      validation(rule('plaintext', 'Member must have length less than or equal to 4096')),
    );
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/first', TargetKeyId: keyId }));
    for (const target of ['alias/first', `arn:aws:kms:${berth.region}:000000000000:alias/first`]) {
      await assert.rejects(
        kms.send(new CreateAliasCommand({ AliasName: 'alias/second', TargetKeyId: target })),
        validation(rule('targetKeyId', 'Member must be a key ID or key ARN, not an alias')),
      );
    }
    const aliases = (await kms.send(new ListAliasesCommand({}))).Aliases!.map((a) => a.AliasName);
    assert.ok(aliases.includes('alias/first') && !aliases.includes('alias/second'), 'nothing created');
  });

  it("Secrets Manager: a name's characters, in Secrets Manager's own words", async () => {
    const sm = new SecretsManagerClient({ endpoint: berth.url, region: berth.region, credentials: adminCredentials(berth), maxAttempts: 1 });
    for (const Name of ['has space', 'semi;colon', 'quote"'])
      await assert.rejects(
        sm.send(new CreateSecretCommand({ Name, SecretString: 'v' })),
        validation('Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!'),
      );
    await assert.rejects(
      sm.send(new CreateSecretCommand({ Name: `bad name${'x'.repeat(512)}`, SecretString: 'v' })),
      validation(rule('name', 'Member must have length less than or equal to 512')),
    );
    assert.deepEqual((await sm.send(new ListSecretsCommand({}))).SecretList, [], 'nothing created');
    await sm.send(new CreateSecretCommand({ Name: 'ok/name_+=.@-', SecretString: 'v' }));
  });
});
