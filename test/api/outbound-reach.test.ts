/**
 * Where URLs users name may take Berth's requests (src/core/outbound-reach.ts), through the real
 * SDK clients and raw /v2 pulls: with the defaults, a pull-through upstream, an API destination
 * or an OIDC issuer at the metadata service (in any spelling) or on loopback is refused when it
 * is created, in each API's words, and nothing is created; a name resolving to loopback is
 * refused when a pull connects, and the upstream never hears of it; a redirect to a refused
 * address is not followed; and outboundAllow widens each of these.
 */
import {
  CreatePullThroughCacheRuleCommand,
  CreateRepositoryCommand,
  DescribePullThroughCacheRulesCommand,
  type ECRClient,
  PutImageCommand,
} from '@aws-sdk/client-ecr';
import {
  CreateApiDestinationCommand,
  CreateConnectionCommand,
  DescribeApiDestinationCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateOpenIDConnectProviderCommand, IAMClient, ListOpenIDConnectProvidersCommand } from '@aws-sdk/client-iam';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { adminCredentials, ecrClient } from '../e2e/helpers/ecr-client.js';
import { eventsInvokeRole } from '../e2e/helpers/events-role.js';
import { refusal } from '../e2e/helpers/refusal.js';
import { manifestAccept, request } from '../e2e/helpers/registry-http.js';
import { waitFor } from '../e2e/helpers/wait-for.js';
import { startInProcess, type BerthInProcess } from './helpers/in-process.js';

const INDEX = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });

/** A registry with one empty index at every tag; counts what it is asked; `redirect` sends manifest GETs elsewhere. */
async function tinyUpstream(host: string, redirect?: () => string): Promise<{ url: string; port: number; asked: string[]; server: Server }> {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(`${req.method} ${req.url}`);
    if (req.url === '/v2/') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    if (redirect && req.url?.includes('/manifests/')) return void res.writeHead(307, { location: `${redirect()}${req.url}` }).end();
    if (req.url?.includes('/manifests/'))
      return void res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' }).end(req.method === 'HEAD' ? undefined : INDEX);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { url: `http://${host}:${port}`, port, asked, server };
}

describe('outbound reach', () => {
  /** Defaults only: loopback and link-local refused. */
  let strict: BerthInProcess;
  /** Widened to 127.0.0.1 and the metadata address, as an operator may. */
  let wide: BerthInProcess;
  let upstream: Awaited<ReturnType<typeof tinyUpstream>>;
  let elsewhere: Awaited<ReturnType<typeof tinyUpstream>>;
  let redirecting: Awaited<ReturnType<typeof tinyUpstream>>;

  const ecrOf = (b: BerthInProcess): ECRClient => ecrClient(b);
  const eventsOf = (b: BerthInProcess) => new EventBridgeClient({ endpoint: b.url, region: b.region, credentials: adminCredentials(b), maxAttempts: 1 });
  const iamOf = (b: BerthInProcess) => new IAMClient({ endpoint: b.url, region: b.region, credentials: adminCredentials(b), maxAttempts: 1 });
  const apiKeyConnection = (Name = 'c') =>
    new CreateConnectionCommand({
      Name,
      AuthorizationType: 'API_KEY',
      AuthParameters: { ApiKeyAuthParameters: { ApiKeyName: 'X-Key', ApiKeyValue: 'k' } },
    });
  const pull = (b: BerthInProcess, path: string) => request(`${b.url}${path}`, { headers: { Accept: manifestAccept } });

  before(async () => {
    // An empty value leaves the default (the helpers allow loopback for every other test).
    // At info, the deliverer's retry line (the send-time refusal of an event) is in the output.
    strict = await startInProcess({ env: { BERTH_OUTBOUND_ALLOW: '', BERTH_LOG_LEVEL: 'info' } });
    wide = await startInProcess({ env: { BERTH_OUTBOUND_ALLOW: '127.0.0.1/32, 169.254.169.254' } });
    upstream = await tinyUpstream('127.0.0.1');
    elsewhere = await tinyUpstream('127.0.0.2');
    redirecting = await tinyUpstream('127.0.0.1', () => elsewhere.url);
  });
  after(async () => {
    for (const u of [upstream, elsewhere, redirecting]) u?.server.close();
    await strict?.cleanup();
    await wide?.cleanup();
  });

  it('refuses a pull-through upstream at the metadata service, in every spelling, or on loopback; creates nothing', async () => {
    const ecr = ecrOf(strict);
    for (const url of [
      '169.254.169.254',
      'https://169.254.169.254:443',
      '2852039166', // 169.254.169.254 as one decimal number
      '0251.0376.0251.0376', // ... in octal
      '0xa9.0xfe.0xa9.0xfe', // ... in hex
      '[::ffff:169.254.169.254]', // IPv4-mapped IPv6
      '[64:ff9b::a9fe:a9fe]', // NAT64
      '[2002:a9fe:a9fe::]', // 6to4
      '[::ffff:0:a9fe:a9fe]', // IPv4-translated
      '[64:ff9b:1::a9fe:a9fe]', // local-use NAT64
      '[2001:0:4136:e378:8000:63bf:5601:5601]', // Teredo, client 169.254.169.254
      '[fd00:ec2::254]', // the metadata service over IPv6
      '[fe80::1]',
      '0.0.0.0',
      upstream.url, // loopback
      'http://[::1]:9',
    ]) {
      const e = await refusal(ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'meta', upstreamRegistryUrl: url })));
      assert.match(e, /InvalidParameterException.*does not reach/, url);
    }
    assert.deepEqual((await ecr.send(new DescribePullThroughCacheRulesCommand({}))).pullThroughCacheRules ?? [], []);
    assert.deepEqual(upstream.asked, [], 'nothing was sent to the loopback upstream');
  });

  it('refuses a name resolving to loopback when a pull connects: the upstream hears nothing', async () => {
    const ecr = ecrOf(strict);
    const named = `http://localhost:${upstream.port}`;
    const created = await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'named', upstreamRegistryUrl: named }));
    assert.equal(created.upstreamRegistryUrl, named, 'a name is judged when it resolves, not when it is written');
    const res = await pull(strict, '/v2/named/app/manifests/v1');
    assert.equal(res.status, 502, res.body.toString());
    const body = JSON.parse(res.body.toString()) as { errors: Array<{ code: string; message: string }> };
    assert.equal(body.errors[0]?.code, 'UNAVAILABLE');
    assert.match(body.errors[0]!.message, /localhost resolves to (127\.0\.0\.1|::1) \(loopback\), which Berth does not reach/);
    assert.deepEqual(upstream.asked, []);
    const line = strict
      .output()
      .split('\n')
      .find((l) => l.includes('outbound request refused'));
    assert.ok(line, 'the refusal is logged');
    assert.match(line, /"host":"localhost".*"reason":"loopback"/);
  });

  it('does not follow a redirect to a refused address', async () => {
    const ecr = ecrOf(wide);
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'hop', upstreamRegistryUrl: redirecting.url }));
    const res = await pull(wide, '/v2/hop/app/manifests/v1');
    assert.equal(res.status, 502, res.body.toString());
    assert.match(res.body.toString(), /127\.0\.0\.2 \(loopback\), which Berth does not reach/);
    assert.ok(
      redirecting.asked.some((a) => a.includes('/manifests/v1')),
      'the allowed upstream was asked',
    );
    assert.deepEqual(elsewhere.asked, [], 'the refused address was not');
  });

  it('reaches what outboundAllow widens it to', async () => {
    const ecr = ecrOf(wide);
    await ecr.send(new CreatePullThroughCacheRuleCommand({ ecrRepositoryPrefix: 'near', upstreamRegistryUrl: upstream.url }));
    const res = await pull(wide, '/v2/near/app/manifests/v1');
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.body.toString(), INDEX);
  });

  it('refuses an API destination or an OAuth endpoint at a link-local address; allowed where widened', async () => {
    const events = eventsOf(strict);
    const conn = await events.send(apiKeyConnection());
    for (const endpoint of [
      'https://169.254.169.254/latest/meta-data/',
      'https://[fd00:ec2::254]/',
      'https://[::ffff:a9fe:a9fe]/',
      'https://[2002:a9fe:a9fe::]/',
      'https://[64:ff9b:1::a9fe:a9fe]/',
      'https://[2001:0:4136:e378:8000:63bf:5601:5601]/',
      'http://127.0.0.1:9/hook',
    ]) {
      const e = await refusal(
        events.send(new CreateApiDestinationCommand({ Name: 'd', ConnectionArn: conn.ConnectionArn, InvocationEndpoint: endpoint, HttpMethod: 'POST' })),
      );
      assert.match(e, /ValidationException.*does not reach/, endpoint);
    }
    assert.match(await refusal(events.send(new DescribeApiDestinationCommand({ Name: 'd' }))), /ResourceNotFoundException/, 'nothing was created');
    const oauth = await refusal(
      events.send(
        new CreateConnectionCommand({
          Name: 'o',
          AuthorizationType: 'OAUTH_CLIENT_CREDENTIALS',
          AuthParameters: {
            OAuthParameters: {
              AuthorizationEndpoint: 'https://169.254.169.254/token',
              HttpMethod: 'POST',
              ClientParameters: { ClientID: 'id', ClientSecret: 'secret' },
            },
          },
        }),
      ),
    );
    assert.match(oauth, /ValidationException.*does not reach/);

    const wider = eventsOf(wide);
    const c2 = await wider.send(apiKeyConnection());
    await wider.send(
      new CreateApiDestinationCommand({ Name: 'd', ConnectionArn: c2.ConnectionArn, InvocationEndpoint: 'https://169.254.169.254/x', HttpMethod: 'POST' }),
    );
  });

  it('refuses a delivery to an API destination whose name resolves to loopback when it is sent', async () => {
    const events = eventsOf(strict);
    const conn = await events.send(apiKeyConnection('hook'));
    const hook = await tinyUpstream('127.0.0.1');
    try {
      const dest = await events.send(
        new CreateApiDestinationCommand({
          Name: 'hook',
          ConnectionArn: conn.ConnectionArn,
          InvocationEndpoint: `http://localhost:${hook.port}/hook`,
          HttpMethod: 'POST',
        }),
      );
      await events.send(new PutRuleCommand({ Name: 'pushes', EventPattern: JSON.stringify({ source: ['aws.ecr'], 'detail-type': ['ECR Image Action'] }) }));
      const RoleArn = await eventsInvokeRole(iamOf(strict), 'hook-invoke');
      await events.send(new PutTargetsCommand({ Rule: 'pushes', Targets: [{ Id: 'hook', Arn: dest.ApiDestinationArn, RoleArn }] }));
      const ecr = ecrOf(strict);
      await ecr.send(new CreateRepositoryCommand({ repositoryName: 'pushed' }));
      await ecr.send(new PutImageCommand({ repositoryName: 'pushed', imageTag: 'v1', imageManifest: INDEX }));
      const line = await waitFor('the refused delivery to be logged', () =>
        strict
          .output()
          .split('\n')
          .find((l) => l.includes('event delivery failed')),
      );
      assert.match(line, /localhost resolves to (127\.0\.0\.1|::1) \(loopback\), which Berth does not reach/);
      assert.doesNotMatch(line, /X-Key|"k"/, 'no credential in the line');
      assert.deepEqual(hook.asked, []);
    } finally {
      hook.server.close();
    }
  });

  it('refuses an OIDC issuer on loopback or at the metadata service', async () => {
    const iam = iamOf(strict);
    const teredoLoopback = 'https://[2001:0:4136:e378::80ff:fffe]'; // Teredo, client 127.0.0.1
    for (const Url of ['http://127.0.0.1:9', 'https://169.254.169.254/issuer', 'https://[::ffff:127.0.0.1]', 'https://[2002:7f00:1::]', teredoLoopback]) {
      assert.match(await refusal(iam.send(new CreateOpenIDConnectProviderCommand({ Url, ClientIDList: ['x'] }))), /InvalidInput.*does not reach/, Url);
    }
    assert.deepEqual((await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList ?? [], []);
    await iamOf(wide).send(new CreateOpenIDConnectProviderCommand({ Url: 'http://127.0.0.1:9', ClientIDList: ['x'] }));
  });
});
