/**
 * The AWS KMS API served by Berth, with real clients over real HTTP: @aws-sdk/client-kms and
 * the `aws kms` CLI against a running server. Keys, aliases, encryption round trips, data keys,
 * tampering, disabled keys, IAM users with and without grants, another account, keys made by
 * `berth admin` and seen through the API (and the reverse), bad input, and another Berth node
 * whose repositories' keys live in this one (kmsProvider 'aws').
 */
import { CreateRepositoryCommand, DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
} from '@aws-sdk/client-kms';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials, awsCliEnv, ecrClient, type Credentials } from './helpers/ecr-client.js';
import { getBlob, pushBlob, sha256 } from './helpers/registry-http.js';
import { waitFor } from './helpers/wait-for.js';

const run = promisify(execFile);
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';

describe('the KMS API', () => {
  let berth: BerthProcess;
  let kms: KMSClient;

  const kmsClient = (credentials: Credentials = adminCredentials(berth)) => new KMSClient({ endpoint: berth.url, region: REGION, credentials, maxAttempts: 1 });
  const berthAdmin = async (...args: string[]) =>
    JSON.parse((await run(process.execPath, [cliPath, 'admin', ...args, '--data-dir', berth.dataDir])).stdout) as Record<string, unknown>;
  const fails = (name: string, message?: RegExp) => (e: Error) => {
    assert.equal(e.name, name, e.message);
    if (message) assert.match(e.message, message);
    return true;
  };

  before(async () => {
    berth = await startBerth();
    kms = kmsClient();
  });
  after(async () => berth?.cleanup());

  it('creates, describes and lists keys and aliases', async () => {
    const { KeyMetadata: m } = await kms.send(new CreateKeyCommand({ Description: 'app secrets' }));
    assert.ok(m?.KeyId);
    assert.equal(m.Arn, `arn:aws:kms:${REGION}:${ACCOUNT}:key/${m.KeyId}`);
    assert.deepEqual(
      { ...m, CreationDate: undefined },
      {
        AWSAccountId: ACCOUNT,
        KeyId: m.KeyId,
        Arn: m.Arn,
        CreationDate: undefined,
        Enabled: true,
        Description: 'app secrets',
        KeyUsage: 'ENCRYPT_DECRYPT',
        KeyState: 'Enabled',
        Origin: 'AWS_KMS',
        KeyManager: 'CUSTOMER',
        CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
        KeySpec: 'SYMMETRIC_DEFAULT',
        EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
        MultiRegion: false,
      },
    );
    assert.ok(m.CreationDate instanceof Date && Math.abs(m.CreationDate.getTime() - Date.now()) < 60_000, 'epoch seconds, parsed as a date');

    await kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: m.KeyId }));
    const aliasArn = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/app`;
    for (const ref of [m.KeyId, m.Arn, 'alias/app', aliasArn]) {
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: ref }))).KeyMetadata?.KeyId, m.KeyId, ref);
    }
    const keys = await kms.send(new ListKeysCommand({}));
    assert.ok(keys.Keys?.some((k) => k.KeyId === m.KeyId && k.KeyArn === m.Arn));
    assert.equal(keys.Truncated, false);
    const aliases = await kms.send(new ListAliasesCommand({ KeyId: m.KeyId }));
    assert.deepEqual(
      aliases.Aliases?.map((a) => [a.AliasName, a.AliasArn, a.TargetKeyId]),
      [['alias/app', aliasArn, m.KeyId]],
    );
    assert.ok(aliases.Aliases?.[0]?.CreationDate instanceof Date);

    // Pages: every key once, in order.
    for (let i = 0; i < 3; i++) await kms.send(new CreateKeyCommand({}));
    const all = (await kms.send(new ListKeysCommand({ Limit: 1000 }))).Keys!.map((k) => k.KeyId);
    const paged: Array<string | undefined> = [];
    let marker: string | undefined;
    do {
      const page = await kms.send(new ListKeysCommand({ Limit: 2, ...(marker && { Marker: marker }) }));
      paged.push(...page.Keys!.map((k) => k.KeyId));
      marker = page.NextMarker;
      assert.equal(page.Truncated, marker !== undefined);
    } while (marker);
    assert.deepEqual(paged, all);

    // Terraform's read-back of a key.
    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: m.KeyId }))).KeyRotationEnabled, false);
    assert.deepEqual((await kms.send(new ListResourceTagsCommand({ KeyId: m.KeyId }))).Tags, []);
    const policy = JSON.parse((await kms.send(new GetKeyPolicyCommand({ KeyId: m.KeyId, PolicyName: 'default' }))).Policy!) as {
      Statement: Array<{ Principal: unknown }>;
    };
    assert.deepEqual(policy.Statement[0]?.Principal, { AWS: `arn:aws:iam::${ACCOUNT}:root` });

    // One alias per key; a moved alias follows at once.
    await assert.rejects(
      kms.send(new CreateAliasCommand({ AliasName: 'alias/app-2', TargetKeyId: m.KeyId })),
      fails('LimitExceededException', /one alias per key/),
    );
    await assert.rejects(kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: all[1]! })), fails('AlreadyExistsException'));
    await assert.rejects(
      kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/mine', TargetKeyId: all[1]! })),
      fails('InvalidAliasNameException', /reserved/),
    );
    await kms.send(new DeleteAliasCommand({ AliasName: 'alias/app' }));
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: all[1]! }));
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/app' }))).KeyMetadata?.KeyId, all[1]);
  });

  it('encrypts and decrypts, with and without an encryption context; tampering and a wrong context fail', async () => {
    const { KeyMetadata: key } = await kms.send(new CreateKeyCommand({}));
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/round-trip', TargetKeyId: key!.KeyId! }));
    const plaintext = randomBytes(4096);
    const plain = await kms.send(new EncryptCommand({ KeyId: 'alias/round-trip', Plaintext: plaintext }));
    assert.equal(plain.KeyId, key!.Arn);
    assert.equal(plain.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob: plain.CiphertextBlob }));
    assert.deepEqual(Buffer.from(opened.Plaintext!), plaintext);
    assert.equal(opened.KeyId, key!.Arn);

    const context = { tenant: 'a', purpose: 'test' };
    const bound = await kms.send(new EncryptCommand({ KeyId: key!.KeyId, Plaintext: Buffer.from('bound'), EncryptionContext: context }));
    const back = await kms.send(
      new DecryptCommand({ CiphertextBlob: bound.CiphertextBlob, EncryptionContext: { purpose: 'test', tenant: 'a' }, KeyId: 'alias/round-trip' }),
    );
    assert.equal(Buffer.from(back.Plaintext!).toString(), 'bound');
    await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: bound.CiphertextBlob })), fails('InvalidCiphertextException'));
    await assert.rejects(
      kms.send(new DecryptCommand({ CiphertextBlob: bound.CiphertextBlob, EncryptionContext: { tenant: 'b', purpose: 'test' } })),
      fails('InvalidCiphertextException'),
    );

    for (const at of [0, 1, 20, 40, bound.CiphertextBlob!.length - 1]) {
      const tampered = Buffer.from(bound.CiphertextBlob!);
      tampered[at]! ^= 0x40;
      await assert.rejects(
        kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: context })),
        fails('InvalidCiphertextException'),
        `byte ${at}`,
      );
    }
    await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: randomBytes(100) })), fails('InvalidCiphertextException'));
    const { KeyMetadata: other } = await kms.send(new CreateKeyCommand({}));
    await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: plain.CiphertextBlob, KeyId: other!.KeyId })), fails('IncorrectKeyException'));
  });

  it('generates data keys that decrypt back', async () => {
    const { KeyMetadata: key } = await kms.send(new CreateKeyCommand({}));
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: key!.Arn, KeySpec: 'AES_256', EncryptionContext: { row: '42' } }));
    assert.equal(dk.Plaintext?.length, 32);
    assert.equal(dk.KeyId, key!.Arn);
    const back = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { row: '42' }, KeyId: key!.Arn }));
    assert.deepEqual(Buffer.from(back.Plaintext!), Buffer.from(dk.Plaintext!));
    assert.equal((await kms.send(new GenerateDataKeyCommand({ KeyId: key!.KeyId, KeySpec: 'AES_128' }))).Plaintext?.length, 16);
    assert.equal((await kms.send(new GenerateDataKeyCommand({ KeyId: key!.KeyId, NumberOfBytes: 1024 }))).Plaintext?.length, 1024);
    const bare = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: key!.KeyId, NumberOfBytes: 7 }));
    assert.equal('Plaintext' in bare, false);
    assert.equal((await kms.send(new DecryptCommand({ CiphertextBlob: bare.CiphertextBlob }))).Plaintext?.length, 7);
  });

  it('a disabled key describes, but neither encrypts nor decrypts until enabled', async () => {
    const { KeyMetadata: key } = await kms.send(new CreateKeyCommand({}));
    const blob = (await kms.send(new EncryptCommand({ KeyId: key!.KeyId, Plaintext: Buffer.from('x') }))).CiphertextBlob;
    await kms.send(new DisableKeyCommand({ KeyId: key!.KeyId }));
    const described = (await kms.send(new DescribeKeyCommand({ KeyId: key!.KeyId }))).KeyMetadata;
    assert.deepEqual([described?.KeyState, described?.Enabled], ['Disabled', false]);
    await assert.rejects(kms.send(new EncryptCommand({ KeyId: key!.KeyId, Plaintext: Buffer.from('x') })), fails('DisabledException', /is disabled/));
    await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: blob })), fails('DisabledException'));
    await assert.rejects(kms.send(new GenerateDataKeyCommand({ KeyId: key!.KeyId, KeySpec: 'AES_256' })), fails('DisabledException'));
    await kms.send(new EnableKeyCommand({ KeyId: key!.Arn }));
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString(), 'x');
  });

  it('creates alias/aws/ecr on first use; it cannot be disabled, nor used but through ECR', async () => {
    const managed = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/ecr' }))).KeyMetadata!;
    assert.equal(managed.KeyManager, 'AWS');
    // Its key policy allows cryptographic use only through ECR (kms:ViaService): test/api/kms-managed-key.test.ts.
    await assert.rejects(
      kms.send(new EncryptCommand({ KeyId: 'alias/aws/ecr', Plaintext: Buffer.from('managed') })),
      fails('AccessDeniedException', /no resource-based policy allows the kms:Encrypt action/),
    );
    await assert.rejects(
      kms.send(new DisableKeyCommand({ KeyId: managed.KeyId })),
      fails('AccessDeniedException', /no resource-based policy allows the kms:DisableKey action/),
    );
    const admin = (await berthAdmin('describe-kms-key', '--key-id', 'alias/aws/ecr')).KeyMetadata as { KeyId: string };
    assert.equal(admin.KeyId, managed.KeyId, 'the one key ECR repositories use too');
  });

  it('sees keys made by `berth admin`, and `berth admin` sees keys made through it', async () => {
    const made = (await berthAdmin('create-kms-key', '--alias', 'alias/from-admin', '--description', 'shell')).KeyMetadata as { KeyId: string };
    const seen = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/from-admin' }))).KeyMetadata!;
    assert.deepEqual([seen.KeyId, seen.Description], [made.KeyId, 'shell']);
    const blob = (await kms.send(new EncryptCommand({ KeyId: made.KeyId, Plaintext: Buffer.from('x') }))).CiphertextBlob;

    const { KeyMetadata: api } = await kms.send(new CreateKeyCommand({ Description: 'from the API' }));
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/from-api', TargetKeyId: api!.KeyId }));
    const shown = (await berthAdmin('describe-kms-key', '--key-id', 'alias/from-api')).KeyMetadata as { KeyId: string; Description: string };
    assert.deepEqual([shown.KeyId, shown.Description], [api!.KeyId, 'from the API']);
    const listed = (await berthAdmin('list-kms-keys')).Keys as Array<{ KeyId: string }>;
    assert.ok(listed.some((k) => k.KeyId === api!.KeyId));

    // A disable from the shell reaches the server once its cache lapses (5 s by default, on the
    // server's timers, which a loaded machine may run late): wait for the first refusal.
    await berthAdmin('disable-kms-key', '--key-id', made.KeyId);
    const refused = await waitFor('the disable from the shell to reach the server', () =>
      kms.send(new DecryptCommand({ CiphertextBlob: blob })).then(
        () => undefined,
        (e: Error) => e,
      ),
    );
    assert.equal(refused.name, 'DisabledException', refused.message);
  });

  it('authorizes IAM users by their policies; another account sees none of these keys', async () => {
    const iam = new IAMClient({ endpoint: berth.url, region: REGION, credentials: adminCredentials(berth) });
    const user = async (name: string, policy?: object) => {
      await iam.send(new CreateUserCommand({ UserName: name }));
      if (policy) await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'kms', PolicyDocument: JSON.stringify(policy) }));
      const { AccessKey: k } = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
      return kmsClient({ accessKeyId: k!.AccessKeyId!, secretAccessKey: k!.SecretAccessKey! });
    };
    const { KeyMetadata: key } = await kms.send(new CreateKeyCommand({}));
    const { KeyMetadata: other } = await kms.send(new CreateKeyCommand({}));
    const blob = (await kms.send(new EncryptCommand({ KeyId: key!.KeyId, Plaintext: Buffer.from('x') }))).CiphertextBlob;

    const nobody = await user('no-kms');
    await assert.rejects(
      nobody.send(new ListKeysCommand({})),
      fails('AccessDeniedException', /user\/no-kms is not authorized to perform: kms:ListKeys on resource: \*/),
    );
    await assert.rejects(nobody.send(new CreateKeyCommand({})), fails('AccessDeniedException', /kms:CreateKey/));
    await assert.rejects(
      nobody.send(new EncryptCommand({ KeyId: key!.KeyId, Plaintext: Buffer.from('x') })),
      fails('AccessDeniedException', new RegExp(`kms:Encrypt on resource: ${key!.Arn}`)),
    );
    await assert.rejects(nobody.send(new DecryptCommand({ CiphertextBlob: blob })), fails('AccessDeniedException', /kms:Decrypt/));

    const encryptOnly = await user('encrypt-one', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['kms:Encrypt', 'kms:DescribeKey'], Resource: key!.Arn },
        { Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'a' } } },
      ],
    });
    const mine = await encryptOnly.send(new EncryptCommand({ KeyId: key!.Arn, Plaintext: Buffer.from('y'), EncryptionContext: { tenant: 'a' } }));
    await assert.rejects(encryptOnly.send(new EncryptCommand({ KeyId: other!.KeyId, Plaintext: Buffer.from('y') })), fails('AccessDeniedException'));
    assert.equal(
      Buffer.from(
        (await encryptOnly.send(new DecryptCommand({ CiphertextBlob: mine.CiphertextBlob, EncryptionContext: { tenant: 'a' } }))).Plaintext!,
      ).toString(),
      'y',
    );
    await assert.rejects(encryptOnly.send(new DecryptCommand({ CiphertextBlob: blob })), fails('AccessDeniedException'), 'the condition needs tenant a');
    await assert.rejects(encryptOnly.send(new DisableKeyCommand({ KeyId: key!.KeyId })), fails('AccessDeniedException'));

    const admin = await user('kms-admin', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: '*', Resource: '*' },
        { Effect: 'Deny', Action: 'kms:Decrypt', Resource: other!.Arn },
      ],
    });
    assert.ok((await admin.send(new ListKeysCommand({}))).Keys!.length > 2);
    assert.equal(Buffer.from((await admin.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString(), 'x');
    const otherBlob = (await admin.send(new EncryptCommand({ KeyId: other!.KeyId, Plaintext: Buffer.from('z') }))).CiphertextBlob;
    await assert.rejects(admin.send(new DecryptCommand({ CiphertextBlob: otherBlob })), fails('AccessDeniedException', /explicit deny/));

    await run(process.execPath, [cliPath, 'admin', 'create-account', '--account-id', '222222222222', '--data-dir', berth.dataDir]);
    const { stdout } = await run(process.execPath, [cliPath, 'admin', 'create-access-key', '--account-id', '222222222222', '--data-dir', berth.dataDir]);
    const stranger = kmsClient(JSON.parse(stdout) as Credentials);
    await assert.rejects(stranger.send(new DescribeKeyCommand({ KeyId: key!.Arn })), fails('NotFoundException'));
    await assert.rejects(stranger.send(new DecryptCommand({ CiphertextBlob: blob })), fails('InvalidCiphertextException'));
    assert.deepEqual((await stranger.send(new ListKeysCommand({}))).Keys, []);
  });

  it('answers bad input with KMS exceptions, never a fault', async () => {
    const { KeyMetadata: key } = await kms.send(new CreateKeyCommand({}));
    const cases: Array<[string, () => Promise<unknown>, string, RegExp?]> = [
      ['an unknown key id', () => kms.send(new DescribeKeyCommand({ KeyId: '11111111-2222-3333-4444-555555555555' })), 'NotFoundException', /does not exist/],
      ['an unknown alias', () => kms.send(new EncryptCommand({ KeyId: 'alias/none', Plaintext: Buffer.from('x') })), 'NotFoundException', /is not found/],
      ['a malformed key id', () => kms.send(new DescribeKeyCommand({ KeyId: 'not a key' })), 'NotFoundException'],
      ["another account's key ARN", () => kms.send(new DescribeKeyCommand({ KeyId: key!.Arn!.replace(ACCOUNT, '999999999999') })), 'NotFoundException'],
      ['an empty key id', () => kms.send(new DescribeKeyCommand({ KeyId: '' })), 'ValidationException', /keyId/],
      ['a plaintext over 4 KiB', () => kms.send(new EncryptCommand({ KeyId: key!.KeyId, Plaintext: randomBytes(4097) })), 'ValidationException', /plaintext/],
      ['an empty plaintext', () => kms.send(new EncryptCommand({ KeyId: key!.KeyId, Plaintext: Buffer.alloc(0) })), 'ValidationException'],
      [
        'both a key spec and a size',
        () => kms.send(new GenerateDataKeyCommand({ KeyId: key!.KeyId, KeySpec: 'AES_256', NumberOfBytes: 32 })),
        'ValidationException',
      ],
      ['neither a key spec nor a size', () => kms.send(new GenerateDataKeyCommand({ KeyId: key!.KeyId })), 'ValidationException'],
      ['too many bytes', () => kms.send(new GenerateDataKeyCommand({ KeyId: key!.KeyId, NumberOfBytes: 1025 })), 'ValidationException', /numberOfBytes/],
      [
        'a key spec KMS does not know',
        () => kms.send(new GenerateDataKeyCommand({ KeyId: key!.KeyId, KeySpec: 'AES_512' as 'AES_256' })),
        'ValidationException',
      ],
      ['a signing key', () => kms.send(new CreateKeyCommand({ KeyUsage: 'SIGN_VERIFY', KeySpec: 'ECC_NIST_P256' })), 'UnsupportedOperationException'],
      ['tags on a new key', () => kms.send(new CreateKeyCommand({ Tags: [{ TagKey: 'team', TagValue: 'a' }] })), 'UnsupportedOperationException', /tags/],
      ['a key policy', () => kms.send(new CreateKeyCommand({ Policy: '{}' })), 'UnsupportedOperationException', /key policies/],
      ['a bogus marker', () => kms.send(new ListKeysCommand({ Marker: 'bogus' })), 'InvalidMarkerException'],
      ['a limit of 0', () => kms.send(new ListAliasesCommand({ Limit: 0 })), 'ValidationException', /limit/],
      ['an alias for an alias', () => kms.send(new CreateAliasCommand({ AliasName: 'alias/x', TargetKeyId: 'alias/app' })), 'ValidationException'],
      ['a bad alias name', () => kms.send(new CreateAliasCommand({ AliasName: 'no-prefix', TargetKeyId: key!.KeyId })), 'InvalidAliasNameException'],
      ['deleting a missing alias', () => kms.send(new DeleteAliasCommand({ AliasName: 'alias/never' })), 'NotFoundException'],
      [
        'an RSA algorithm',
        () => kms.send(new EncryptCommand({ KeyId: key!.KeyId, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })),
        'ValidationException',
      ],
      ['a dry run', () => kms.send(new EncryptCommand({ KeyId: key!.KeyId, Plaintext: Buffer.from('x'), DryRun: true })), 'DryRunOperationException'],
    ];
    for (const [what, call, name, message] of cases) {
      await assert.rejects(call(), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(e.name, name, `${what}: ${e.message}`);
        assert.equal(e.$metadata?.httpStatusCode, 400, what);
        if (message) assert.match(e.message, message, what);
        return true;
      });
    }
  });

  it('answers malformed bodies and unknown operations in the AWS JSON protocol', async () => {
    const withBody = (body: string) => {
      const c = kmsClient();
      c.middlewareStack.add(
        (next) => async (args) => {
          const request = args.request as { body: string; headers: Record<string, string> };
          request.body = body;
          request.headers['content-length'] = String(Buffer.byteLength(body));
          return next(args);
        },
        { step: 'build', name: 'replaceBody' },
      );
      return c;
    };
    const describe = (body: string) => withBody(body).send(new DescribeKeyCommand({ KeyId: 'x' }));
    await assert.rejects(describe('{not json'), fails('SerializationException'));
    await assert.rejects(describe('[]'), fails('SerializationException'));
    await assert.rejects(describe('{"KeyId": 5}'), fails('SerializationException'));
    await assert.rejects(describe('{}'), fails('ValidationException', /Member must not be null/));
    await assert.rejects(
      withBody('{"KeyId":"alias/aws/ecr","Plaintext":"not base64!"}').send(new EncryptCommand({ KeyId: 'x', Plaintext: Buffer.from('x') })),
      fails('SerializationException', /base64/),
    );
    await assert.rejects(
      withBody('{"KeyId":"alias/aws/ecr","Plaintext":"eA==","EncryptionContext":{"a":1}}').send(
        new EncryptCommand({ KeyId: 'x', Plaintext: Buffer.from('x') }),
      ),
      fails('SerializationException'),
    );

    const unsigned = await fetch(berth.url, {
      method: 'POST',
      headers: { 'X-Amz-Target': 'TrentService.ListKeys', 'Content-Type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    assert.equal(unsigned.status, 403);
    assert.equal(((await unsigned.json()) as { __type: string }).__type, 'MissingAuthenticationTokenException');
    const unknown = await fetch(berth.url, {
      method: 'POST',
      headers: { 'X-Amz-Target': 'TrentService.ReEncrypt', 'Content-Type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    assert.equal(unknown.status, 400);
    assert.equal(((await unknown.json()) as { __type: string }).__type, 'UnknownOperationException');
  });

  it('works from the aws CLI', async () => {
    const env = awsCliEnv(berth);
    const aws = async (...args: string[]) =>
      JSON.parse((await run('aws', ['kms', ...args, '--output', 'json'], { env })).stdout || '{}') as Record<string, unknown>;
    const created = (await aws('create-key', '--description', 'from the cli')).KeyMetadata as { KeyId: string; Arn: string };
    await aws('create-alias', '--alias-name', 'alias/cli', '--target-key-id', created.KeyId);
    assert.equal(((await aws('describe-key', '--key-id', 'alias/cli')).KeyMetadata as { Arn: string }).Arn, created.Arn);
    const aliases = (await aws('list-aliases')).Aliases as Array<{ AliasName: string; TargetKeyId: string }>;
    assert.ok(aliases.some((a) => a.AliasName === 'alias/cli' && a.TargetKeyId === created.KeyId));

    const dir = await tempDir('berth-kms-cli-');
    const secret = randomBytes(300);
    await writeFile(join(dir, 'secret.bin'), secret);
    const encrypted = await aws('encrypt', '--key-id', 'alias/cli', '--plaintext', `fileb://${join(dir, 'secret.bin')}`, '--encryption-context', 'app=cli');
    assert.equal(encrypted.KeyId, created.Arn);
    await writeFile(join(dir, 'blob.bin'), Buffer.from(encrypted.CiphertextBlob as string, 'base64'));
    const decrypted = await aws('decrypt', '--ciphertext-blob', `fileb://${join(dir, 'blob.bin')}`, '--encryption-context', 'app=cli');
    assert.deepEqual(Buffer.from(decrypted.Plaintext as string, 'base64'), secret);
    const dk = await aws('generate-data-key', '--key-id', created.KeyId, '--key-spec', 'AES_256');
    assert.equal(Buffer.from(dk.Plaintext as string, 'base64').length, 32);
    await aws('disable-key', '--key-id', created.KeyId);
    const err = await run('aws', ['kms', 'decrypt', '--ciphertext-blob', `fileb://${join(dir, 'blob.bin')}`, '--encryption-context', 'app=cli'], { env }).catch(
      (e: { stderr: string }) => e,
    );
    assert.match((err as { stderr: string }).stderr, /\(DisabledException\) when calling the Decrypt operation/);
    const missing = await run('aws', ['kms', 'describe-key', '--key-id', 'alias/nope'], { env }).catch((e: { stderr: string }) => e);
    assert.match((missing as { stderr: string }).stderr, /\(NotFoundException\) when calling the DescribeKey operation: Alias '.*alias\/nope' is not found/);
  });

  it('is the KMS of another Berth node (kmsProvider aws): its KMS repositories seal under keys kept here', async () => {
    const { KeyMetadata: key } = await kms.send(new CreateKeyCommand({ Description: 'for the other node' }));
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/other-node', TargetKeyId: key!.KeyId }));
    const creds = adminCredentials(berth);
    // Sharing the server key, the other node's ECR proves its requests are its own, the only use
    // the managed key alias/aws/ecr allows (its repository remote/default below).
    const serverKey = (await readFile(join(berth.dataDir, 'server.key'), 'utf8')).trim();
    const node = await startBerth({
      env: {
        BERTH_SERVER_KEY: serverKey,
        BERTH_KMS_PROVIDER: 'aws',
        BERTH_KMS_ENDPOINT: berth.url,
        AWS_ACCESS_KEY_ID: creds.accessKeyId,
        AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
        BERTH_AUTHZ_CACHE_SECONDS: '1',
      },
    });
    try {
      const ecr = ecrClient(node);
      await ecr.send(
        new CreateRepositoryCommand({ repositoryName: 'remote/app', encryptionConfiguration: { encryptionType: 'KMS', kmsKey: 'alias/other-node' } }),
      );
      await ecr.send(new CreateRepositoryCommand({ repositoryName: 'remote/default', encryptionConfiguration: { encryptionType: 'KMS' } }));
      const repos = (await ecr.send(new DescribeRepositoriesCommand({}))).repositories!;
      const managed = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/ecr' }))).KeyMetadata!;
      assert.deepEqual(Object.fromEntries(repos.map((r) => [r.repositoryName, r.encryptionConfiguration?.kmsKey])), {
        'remote/app': key!.Arn,
        'remote/default': managed.Arn,
      });
      const data = randomBytes(5000);
      for (const repo of ['remote/app', 'remote/default']) {
        assert.equal((await pushBlob(node.url, repo, data)).status, 201);
        const got = await getBlob(node.url, repo, sha256(data));
        assert.equal(got.status, 200);
        assert.deepEqual(got.body, data);
      }

      // Disabled here, the key stops the other node's reads once its cache (1 s) lapses: wait
      // for the first read that is not served, then check it is the refusal.
      await kms.send(new DisableKeyCommand({ KeyId: key!.KeyId }));
      const refused = await waitFor('the disable to reach the other node', async () => {
        const r = await getBlob(node.url, 'remote/app', sha256(data));
        if (r.status === 200) {
          assert.deepEqual(r.body, data, 'served while the cache lasts, and intact');
          return undefined;
        }
        return r;
      });
      assert.equal(refused.status, 403, refused.body.toString());
      assert.match(refused.body.toString(), /DisabledException/);
      await kms.send(new EnableKeyCommand({ KeyId: key!.KeyId }));
    } finally {
      await node.cleanup();
    }
  });
});
