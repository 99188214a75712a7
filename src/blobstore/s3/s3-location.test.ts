/** The s3 location parser and the part-size schedule; no server needed. */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { partSizeFor } from './s3-blob-store.js';
import { createS3Client } from './s3-client.js';
import { parseS3Location, S3LocationError } from './s3-location.js';

const MiB = 1024 * 1024;

describe('parseS3Location', () => {
  it('takes bucket and prefix from the URL, with defaults that work on AWS', () => {
    assert.deepEqual(parseS3Location('s3://my-bucket/registry/prod/'), {
      bucket: 'my-bucket',
      prefix: 'registry/prod',
      region: 'us-east-1',
      forcePathStyle: false,
      redirect: 'stream',
      partSize: 10 * MiB,
    });
    assert.equal(parseS3Location('s3://my-bucket').prefix, '');
    assert.equal(parseS3Location('s3://my-bucket/').prefix, '');
  });

  it('defaults to path style with a custom endpoint, and takes explicit settings', () => {
    const loc = parseS3Location('s3://berth', {
      endpoint: 'http://rgw.internal:7480/',
      region: 'default',
      accessKeyId: 'AK',
      secretAccessKey: 'SK',
      redirect: 'presign',
      presignEndpoint: 'https://objects.example.com',
      partSize: 16 * MiB,
    });
    assert.equal(loc.endpoint, 'http://rgw.internal:7480');
    assert.equal(loc.forcePathStyle, true);
    assert.deepEqual(loc.credentials, { accessKeyId: 'AK', secretAccessKey: 'SK' });
    assert.equal(loc.redirect, 'presign');
    assert.equal(loc.presignEndpoint, 'https://objects.example.com');
    assert.equal(parseS3Location('s3://berth', { endpoint: 'http://minio:9000', forcePathStyle: false }).forcePathStyle, false);
  });

  it('names the bad option', () => {
    const bad: Array<[string, Parameters<typeof parseS3Location>[1], string]> = [
      ['file:///data', {}, 'url'],
      ['s3://', {}, 'url'],
      ['s3://UPPER', {}, 'url'],
      ['s3://ab', {}, 'url'],
      ['s3://b..x', {}, 'url'],
      ['s3://key:secret@bucket', {}, 'url'],
      ['s3://bucket:9000/x', {}, 'url'],
      ['s3://bucket/x?y=1', {}, 'url'],
      ['s3://bucket/a/../b', {}, 'url'],
      ['s3://bucket/a//b', {}, 'url'],
      ['s3://bucket/a%20b', {}, 'url'],
      ['s3://bucket', { endpoint: 'ftp://x' }, 'endpoint'],
      ['s3://bucket', { endpoint: 'not a url' }, 'endpoint'],
      ['s3://bucket', { presignEndpoint: 'http://u:p@x' }, 'presignEndpoint'],
      ['s3://bucket', { region: 'US East' }, 'region'],
      ['s3://bucket', { accessKeyId: 'AK' }, 'secretAccessKey'],
      ['s3://bucket', { secretAccessKey: 'SK' }, 'accessKeyId'],
      ['s3://bucket', { sessionToken: 'T' }, 'sessionToken'],
      ['s3://bucket', { redirect: 'proxy' as 'stream' }, 'redirect'],
      ['s3://bucket', { partSize: 4 * MiB }, 'partSize'],
      ['s3://bucket', { partSize: 5 * MiB + 0.5 }, 'partSize'],
    ];
    for (const [url, opts, key] of bad) {
      assert.throws(
        () => parseS3Location(url, opts),
        (e: unknown) => e instanceof S3LocationError && e.key === key,
        `${url} ${JSON.stringify(opts)}`,
      );
    }
  });
});

describe('createS3Client', () => {
  it('sends to the configured endpoint only, whatever AWS_ENDPOINT_URL says', async () => {
    const saved = process.env.AWS_ENDPOINT_URL;
    // What a shell that points the aws CLI at Berth has set (design.md).
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:9';
    try {
      for (const [opts, host] of [
        [{}, 'berth-blobs.s3.eu-west-1.amazonaws.com'],
        [{ endpoint: 'http://rgw.internal:7480' }, 'rgw.internal'],
      ] as const) {
        const client = createS3Client(parseS3Location('s3://berth-blobs', { ...opts, region: 'eu-west-1', accessKeyId: 'AK', secretAccessKey: 'SK' }));
        let sentTo = '';
        client.middlewareStack.add(
          () => async (args) => {
            sentTo = (args.request as { hostname: string }).hostname;
            throw new Error('not sent');
          },
          { step: 'finalizeRequest' },
        );
        await assert.rejects(client.send(new HeadObjectCommand({ Bucket: 'berth-blobs', Key: 'k' })), /not sent/);
        assert.equal(sentTo, host);
      }
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = saved;
    }
  });
});

describe('partSizeFor', () => {
  it('grows every 1000 parts so that 10,000 parts hold over 500 GiB at 10 MiB', () => {
    assert.equal(partSizeFor(10 * MiB, 1), 10 * MiB);
    assert.equal(partSizeFor(10 * MiB, 1000), 10 * MiB);
    assert.equal(partSizeFor(10 * MiB, 1001), 20 * MiB);
    let total = 0;
    for (let n = 1; n < 10_000; n++) total += partSizeFor(10 * MiB, n);
    assert.ok(total > 500 * 1024 * MiB, `${total} bytes`);
  });
});
