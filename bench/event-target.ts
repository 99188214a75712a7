/**
 * An EventBridge route for benchmarks: a receiver in its own process (in the load generator's
 * it would slow the load, and only while the server that sends is measured) and, on a Berth, one
 * rule matching every ECR event with one API destination target pointing at it, made with `aws events`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from '../test/e2e/helpers/berth-process.js';
import type { Server } from './servers.js';

const run = promisify(execFile);

export interface Receiver {
  url: string;
  /** Stops the receiver; resolves to how many events it received. */
  stop(): Promise<string>;
}

export async function startReceiver(): Promise<Receiver> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      `let n = 0;
       require('node:http').createServer((req, res) => { req.resume(); req.on('end', () => { n++; res.writeHead(200).end(); }); })
         .listen(${port}, '127.0.0.1', () => process.stdout.write('ready\\n'));
       process.on('SIGTERM', () => { process.stdout.write(n + '\\n'); process.exit(0); });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((res) => child.stdout!.once('data', () => res()));
  return {
    url: `http://127.0.0.1:${port}/hook`,
    async stop() {
      const exited = new Promise((res) => child.once('exit', res));
      child.kill('SIGTERM');
      await exited;
      return out.split('\n')[1] ?? '?';
    },
  };
}

/** One rule matching every ECR event, one API destination (API key connection) to `receiverUrl`. */
export async function routeEvents(server: Server, receiverUrl: string): Promise<void> {
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: server.url,
    AWS_ACCESS_KEY_ID: server.admin!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.admin!.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
  const events = async (...args: string[]) =>
    JSON.parse((await run('aws', ['events', ...args, '--output', 'json'], { env })).stdout || '{}') as Record<string, string>;
  const conn = await events(
    'create-connection',
    '--name',
    'c',
    '--authorization-type',
    'API_KEY',
    '--auth-parameters',
    '{"ApiKeyAuthParameters":{"ApiKeyName":"k","ApiKeyValue":"v"}}',
  );
  const dest = await events(
    'create-api-destination',
    '--cli-input-json',
    JSON.stringify({ Name: 'd', ConnectionArn: conn.ConnectionArn, InvocationEndpoint: receiverUrl, HttpMethod: 'POST', InvocationRateLimitPerSecond: 300 }),
  );
  await events('put-rule', '--name', 'all', '--event-pattern', '{"source":["aws.ecr"]}');
  // The role EventBridge invokes the destination with (events:InvokeApiDestination).
  const iam = async (...args: string[]) =>
    JSON.parse((await run('aws', ['iam', ...args, '--output', 'json'], { env })).stdout || '{}') as Record<string, unknown>;
  const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sts:AssumeRole' }] };
  const role = (await iam('create-role', '--role-name', 'invoke', '--assume-role-policy-document', JSON.stringify(trust))).Role as { Arn: string };
  const invoke = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'events:InvokeApiDestination', Resource: dest.ApiDestinationArn }] };
  await iam('put-role-policy', '--role-name', 'invoke', '--policy-name', 'invoke', '--policy-document', JSON.stringify(invoke));
  const put = await events('put-targets', '--rule', 'all', '--targets', JSON.stringify([{ Id: 't', Arn: dest.ApiDestinationArn, RoleArn: role.Arn }]));
  if (String(put.FailedEntryCount) !== '0') throw new Error(`put-targets failed: ${JSON.stringify(put.FailedEntries)}`);
}
