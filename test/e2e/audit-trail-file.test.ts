/**
 * Upgrading a data directory whose trail an older Berth kept in metadata.db: at start the rows
 * move to the trail's own file (metadata-audit.db) and become batches there (migration 20), and
 * `aws cloudtrail lookup-events` finds each once, also when an earlier start was killed halfway
 * through the move.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { startBerth, type BerthProcess } from './helpers/berth-process.js';
import { adminCredentials } from './helpers/ecr-client.js';

const run = promisify(execFile);
const OLD_COLUMNS = 'event_id, account_id, event_time, event_name, event_source, read_only, username, access_key_id, resource_type, resource_name, record';

describe('the audit trail moved to its own file', () => {
  let berth: BerthProcess | undefined;
  after(async () => {
    await berth?.cleanup();
  });

  it('finds the rows an older Berth stored in metadata.db, each once, after a move cut short', async () => {
    berth = await startBerth();
    const dataDir = berth.dataDir;
    const creds = adminCredentials(berth);
    const aws = async (args: string[]) => {
      const env = {
        ...process.env,
        AWS_ENDPOINT_URL: berth!.url,
        AWS_ACCESS_KEY_ID: creds.accessKeyId,
        AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
        AWS_DEFAULT_REGION: berth!.region,
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_PAGER: '',
      };
      return JSON.parse((await run('aws', [...args, '--output', 'json'], { env })).stdout) as Record<string, unknown>;
    };
    const account = (await aws(['sts', 'get-caller-identity'])).Account as string;
    await berth.stop();

    // Three rows where migration 8 put them, in its form (the record's JSON itself); the first two
    // also in the trail's file already, as a start killed between copying and deleting leaves them.
    const time = Date.now() - 60_000;
    const old = [0, 1, 2].map((i) => ({
      id: `0190aaaa-bbbb-7ccc-8ddd-00000000000${i}`,
      record: JSON.stringify({ eventVersion: '1.08', eventName: 'SetRepositoryPolicy', eventID: `0190aaaa-bbbb-7ccc-8ddd-00000000000${i}`, n: i }),
    }));
    for (const [file, rows] of [
      ['metadata.db', old],
      ['metadata-audit.db', old.slice(0, 2)],
    ] as const) {
      const db = new Database(join(dataDir, file));
      const insert = db.prepare(
        `INSERT INTO audit_events (${OLD_COLUMNS}) VALUES (?, ?, ?, 'SetRepositoryPolicy', 'ecr.amazonaws.com', 0, 'root', NULL, 'AWS::ECR::Repository', 'old/repo', ?)`,
      );
      for (const [i, r] of rows.entries()) insert.run(r.id, account, time + i, r.record);
      db.close();
    }

    berth = await startBerth({ dataDir });
    const found = (await aws(['cloudtrail', 'lookup-events', '--lookup-attributes', 'AttributeKey=EventName,AttributeValue=SetRepositoryPolicy'])) as {
      Events: Array<{ EventId: string; CloudTrailEvent: string; Resources: unknown }>;
    };
    assert.deepEqual(
      found.Events.map((e) => [e.EventId, e.CloudTrailEvent]),
      [...old].reverse().map((r) => [r.id, r.record]),
    );
    assert.deepEqual(found.Events[0]!.Resources, [{ ResourceType: 'AWS::ECR::Repository', ResourceName: 'old/repo' }]);
    const byId = (await aws(['cloudtrail', 'lookup-events', '--lookup-attributes', `AttributeKey=EventId,AttributeValue=${old[1]!.id}`])) as {
      Events: Array<{ CloudTrailEvent: string }>;
    };
    assert.deepEqual(
      byId.Events.map((e) => e.CloudTrailEvent),
      [old[1]!.record],
    );

    const left = new Database(join(dataDir, 'metadata.db'), { readonly: true });
    const moved = new Database(join(dataDir, 'metadata-audit.db'), { readonly: true });
    try {
      assert.equal((left.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n, 0);
      assert.equal((moved.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n, 0, 'the rows are batches now');
      assert.equal((moved.prepare('SELECT count(*) AS n FROM audit_batches WHERE form = 1').get() as { n: number }).n, 1);
    } finally {
      left.close();
      moved.close();
    }
  });
});
