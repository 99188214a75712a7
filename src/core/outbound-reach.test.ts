import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { outbound } from '../events/outbound.js';
import { guardedFetch } from './guarded-fetch.js';
import { judgedAddresses, OutboundRefused, parseCidr, ReachPolicy } from './outbound-reach.js';

describe('outbound reach policy', () => {
  const policy = new ReachPolicy();

  it('refuses link-local, loopback, unspecified, multicast and reserved addresses; reaches the rest', () => {
    for (const [a, why] of [
      ['169.254.169.254', 'link-local'],
      ['fe80::1', 'link-local'],
      ['fd00:ec2::254', 'link-local'],
      ['127.0.0.1', 'loopback'],
      ['127.9.9.9', 'loopback'],
      ['::1', 'loopback'],
      ['0.0.0.0', 'unspecified'],
      ['::', 'unspecified'],
      ['224.0.0.1', 'multicast'],
      ['ff02::1', 'multicast'],
      ['255.255.255.255', 'reserved'],
    ])
      assert.equal(policy.refusal(a!), why, a);
    for (const a of ['10.0.0.1', '172.16.0.1', '192.168.1.1', '100.64.0.1', '8.8.8.8', 'fd12::1', '2001:db8::1']) assert.equal(policy.refusal(a), undefined, a);
  });

  it('judges an IPv6 address carrying IPv4 by the IPv4 address', () => {
    assert.deepEqual(judgedAddresses('::ffff:169.254.169.254'), ['169.254.169.254']);
    assert.deepEqual(judgedAddresses('::ffff:a9fe:a9fe'), ['169.254.169.254']);
    assert.deepEqual(judgedAddresses('64:ff9b::7f00:1'), ['127.0.0.1']);
    assert.deepEqual(judgedAddresses('[::ffff:7f00:1]'), ['127.0.0.1']);
    assert.deepEqual(judgedAddresses('::1'), ['::1']);
    assert.deepEqual(judgedAddresses('::'), ['::']);
    assert.deepEqual(judgedAddresses('2002:7f00:1::'), ['127.0.0.1'], '6to4');
    assert.deepEqual(judgedAddresses('2002:a9fe:a9fe:0:0:0:0:1'), ['169.254.169.254']);
    assert.deepEqual(judgedAddresses('::ffff:0:7f00:1'), ['127.0.0.1'], 'translated');
    assert.deepEqual(judgedAddresses('0:0:0:0:0:ffff:127.0.0.1'), ['127.0.0.1']);
    assert.deepEqual(judgedAddresses('fe80::1%eth0'), ['fe80::1']);
    assert.deepEqual(judgedAddresses('2001:db8::1'), ['2001:db8::1']);
    assert.deepEqual(judgedAddresses('fd00:ec2::254'), ['fd00:ec2::254']);
    for (const a of ['::ffff:a9fe:a9fe', '::ffff:127.0.0.1', '64:ff9b::a9fe:a9fe', '2002:7f00:1::', '2002:a9fe:a9fe::'])
      assert.notEqual(policy.refusal(a), undefined, a);
  });

  it('judges local-use NAT64 by the IPv4 address of its /96 form, and refuses the rest of its /48', () => {
    assert.deepEqual(judgedAddresses('64:ff9b:1::a9fe:a9fe'), ['169.254.169.254']);
    assert.deepEqual(judgedAddresses('64:ff9b:1::127.0.0.1'), ['127.0.0.1']);
    assert.equal(policy.refusal('64:ff9b:1::a9fe:a9fe'), 'link-local');
    assert.equal(policy.refusal('64:ff9b:1::7f00:1'), 'loopback');
    assert.equal(policy.refusal('64:ff9b:1::808:808'), undefined, '8.8.8.8 through a local-use NAT64 is reached');
    // The /48 form of 169.254.169.254 (RFC 6052: bits 48-63, then 72-87 past the zero u-octet).
    assert.equal(policy.refusal('64:ff9b:1:a9fe:a9:fe00::'), 'local-use NAT64');
    assert.equal(policy.refusal('64:ff9b:1:1::808:808'), 'local-use NAT64', 'another /96 of the /48 is refused too');
    assert.equal(new ReachPolicy({ outboundAllow: ['64:ff9b:1:1::/96'], outboundDeny: [] }).refusal('64:ff9b:1:1::808:808'), undefined);
    assert.equal(policy.refusal('64:ff9b::808:808'), undefined, 'the well-known prefix reaches a public address');
  });

  it('judges a Teredo address by both IPv4 addresses it carries: the server and the client (inverted)', () => {
    // RFC 4380's example: server 65.54.227.120, client 192.0.2.45 (port 40000, cone flag).
    assert.deepEqual(judgedAddresses('2001:0:4136:e378:8000:63bf:3fff:fdd2'), ['65.54.227.120', '192.0.2.45']);
    assert.equal(policy.refusal('2001:0:4136:e378:8000:63bf:3fff:fdd2'), undefined);
    // Client 169.254.169.254 (inverted: 5601:5601), and client 127.0.0.1 (80ff:fffe).
    assert.equal(policy.refusal('2001:0:4136:e378:8000:63bf:5601:5601'), 'link-local');
    assert.equal(policy.refusal('2001:0:4136:e378::80ff:fffe'), 'loopback');
    assert.equal(policy.refusal('2001:0:7f00:1:8000:63bf:3fff:fdd2'), 'loopback', 'a server on loopback');
    assert.equal(policy.refusal('2001:db8::1'), undefined, '2001:db8::/32 is not Teredo');
  });

  it('lets outboundDeny name an IPv6 range that carries IPv4, not only the IPv4 it carries', () => {
    const p = new ReachPolicy({ outboundAllow: [], outboundDeny: ['2001::/32', '2002::/16'] });
    assert.equal(p.refusal('2001:0:4136:e378:8000:63bf:3fff:fdd2'), 'denied by outboundDeny');
    assert.equal(p.refusal('[2002:808:808::1]'), 'denied by outboundDeny');
    assert.equal(p.refusal('8.8.8.8'), undefined);
  });

  it("judges a URL's host as the URL parser spells it: decimal, octal and hex IPv4 included", () => {
    for (const h of ['http://2852039166/', 'http://0251.0376.0251.0376/', 'http://0xa9fea9fe/', 'http://[::ffff:169.254.169.254]/', 'http://169.254.169.254./'])
      assert.equal(policy.hostRefusal(new URL(h).hostname), 'link-local', h);
    assert.equal(policy.hostRefusal('registry.example.com'), undefined, 'names are judged when they resolve');
  });

  it('lets outboundAllow widen and outboundDeny narrow, deny winning', () => {
    const p = new ReachPolicy({ outboundAllow: ['127.0.0.0/8', '10.0.0.0/8'], outboundDeny: ['10.1.0.0/16', '192.168.0.5'] });
    assert.equal(p.refusal('127.0.0.1'), undefined);
    assert.equal(p.refusal('::ffff:127.0.0.1'), undefined);
    assert.equal(p.refusal('10.2.0.1'), undefined);
    assert.equal(p.refusal('10.1.0.1'), 'denied by outboundDeny');
    assert.equal(p.refusal('192.168.0.5'), 'denied by outboundDeny');
    assert.equal(p.refusal('169.254.169.254'), 'link-local');
  });

  it('reads CIDRs strictly', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'example.com', '10.0.0.0/8/1', '::/129', '10.0.0.0/x', '']) assert.throws(() => parseCidr(bad), bad);
  });

  it('refuses a name resolving to a refused address at connect time (fetch and http agents); nothing reaches the server', async () => {
    let asked = 0;
    const server = createServer((_req, res) => {
      asked++;
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      await assert.rejects(
        guardedFetch(policy)(`http://localhost:${port}/`),
        (e: Error) => e.cause instanceof OutboundRefused && e.cause.reason === 'loopback',
      );
      await assert.rejects(guardedFetch(policy)(`http://127.0.0.1:${port}/`), (e: Error) => e.cause instanceof OutboundRefused);
      const out = outbound();
      try {
        await assert.rejects(out.send(new URL(`http://localhost:${port}/`), 'POST', {}, '{}', 5000), /localhost resolves to .* \(loopback\)/);
        await assert.rejects(out.send(new URL(`http://127.0.0.1:${port}/`), 'POST', {}, '{}', 5000), OutboundRefused);
      } finally {
        out.close();
      }
      assert.equal(asked, 0);
      // Widened, the same requests go through.
      const allowed = { outboundAllow: ['127.0.0.0/8', '::1'], outboundDeny: [] };
      assert.equal(await (await guardedFetch(new ReachPolicy(allowed))(`http://localhost:${port}/`)).text(), 'ok');
      const open = outbound(allowed);
      try {
        assert.equal(await open.send(new URL(`http://localhost:${port}/`), 'POST', {}, '{}', 5000), 200);
      } finally {
        open.close();
      }
      assert.equal(asked, 2);
    } finally {
      server.close();
    }
  });
});
