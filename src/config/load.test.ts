import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './load.js';

describe('loadConfig', () => {
  it('has defaults that give a working registry', () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.port, 5000);
    assert.equal(c.dataDir, './data');
    assert.equal(c.createOnPush, true);
    assert.equal(c.maxManifestBytes, 4 * 1024 * 1024);
  });

  it('has a download written to its socket by its opening thread unless told otherwise', () => {
    assert.equal(loadConfig({ env: {} }).threadSends, true);
    assert.equal(loadConfig({ env: { BERTH_THREAD_SENDS: 'false' } }).threadSends, false);
  });

  it("has a sent download written by its byte thread's send pipe unless told otherwise", () => {
    assert.equal(loadConfig({ env: {} }).sendPipe, true);
    assert.equal(loadConfig({ env: { BERTH_SEND_PIPE: 'false' } }).sendPipe, false);
  });

  it("has the send pipe's threads run as SCHED_BATCH unless told otherwise", () => {
    assert.equal(loadConfig({ env: {} }).sendPipeBatch, true);
    assert.equal(loadConfig({ env: { BERTH_SEND_PIPE_BATCH: 'false' } }).sendPipeBatch, false);
  });

  it("has the native cipher run its own AVX2 GCM where the CPU can, unless told to keep to OpenSSL's", () => {
    assert.equal(loadConfig({ env: {} }).gcmAvx2, true);
    assert.equal(loadConfig({ env: { BERTH_GCM_AVX2: 'false' } }).gcmAvx2, false);
  });

  it('has downloads read blob files with preads unless told to map them, and names a bad value', () => {
    assert.equal(loadConfig({ env: {} }).downloadReads, 'pread');
    assert.equal(loadConfig({ env: { BERTH_DOWNLOAD_READS: 'mapped' } }).downloadReads, 'mapped');
    assert.throws(
      () => loadConfig({ env: { BERTH_DOWNLOAD_READS: 'mmap' } }),
      (e: unknown) => e instanceof ConfigError && /BERTH_DOWNLOAD_READS/.test(e.message),
    );
  });

  it('layers file, then environment, then flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-config-'));
    const file = join(dir, 'berth.json');
    writeFileSync(file, JSON.stringify({ port: 6000, host: '127.0.0.1', dataDir: '/from/file' }));
    const c = loadConfig({ file, env: { BERTH_PORT: '7000', BERTH_CREATE_ON_PUSH: 'false' }, flags: { port: '8000' } });
    assert.equal(c.port, 8000);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.dataDir, '/from/file');
    assert.equal(c.createOnPush, false);
  });

  it('reads the job lease in seconds, 30 by default, and refuses one too short to renew', () => {
    assert.equal(loadConfig({ env: {} }).jobLeaseSeconds, 30);
    assert.equal(loadConfig({ env: { BERTH_JOB_LEASE_SECONDS: '120' } }).jobLeaseSeconds, 120);
    for (const bad of ['0', '2', '3601', 'soon']) {
      assert.throws(
        () => loadConfig({ env: { BERTH_JOB_LEASE_SECONDS: bad } }),
        (e: unknown) => e instanceof ConfigError && /BERTH_JOB_LEASE_SECONDS/.test(e.message),
      );
    }
  });

  it("reads one account's job slots from the file or BERTH_JOB_SLOTS_PER_ACCOUNT, unset by default, and names a bad value", () => {
    assert.equal(loadConfig({ env: {} }).jobSlotsPerAccount, undefined);
    assert.equal(loadConfig({ env: { BERTH_JOB_SLOTS_PER_ACCOUNT: '2' } }).jobSlotsPerAccount, 2);
    const dir = mkdtempSync(join(tmpdir(), 'berth-config-'));
    const file = join(dir, 'berth.json');
    writeFileSync(file, JSON.stringify({ jobSlotsPerAccount: 3 }));
    assert.equal(loadConfig({ file, env: {} }).jobSlotsPerAccount, 3);
    for (const bad of ['0', '-1', '1.5', '65', 'half']) {
      assert.throws(
        () => loadConfig({ env: { BERTH_JOB_SLOTS_PER_ACCOUNT: bad } }),
        (e: unknown) => e instanceof ConfigError && /BERTH_JOB_SLOTS_PER_ACCOUNT/.test(e.message),
        bad,
      );
    }
    writeFileSync(file, JSON.stringify({ jobSlotsPerAccount: 0 }));
    assert.throws(
      () => loadConfig({ file, env: {} }),
      (e: unknown) => e instanceof ConfigError && e.message.includes(`${file}: jobSlotsPerAccount`),
    );
  });

  it('reads peer regions as JSON from BERTH_REGIONS, and names it when it is not', () => {
    const c = loadConfig({ env: { BERTH_REGIONS: '{"eu-west-1":{"endpoint":"https://eu.example.com"}}', BERTH_REPLICATION_RETRY_SECONDS: '5' } });
    assert.deepEqual(c.regions, { 'eu-west-1': { endpoint: 'https://eu.example.com' } });
    assert.equal(c.replicationRetrySeconds, 5);
    assert.deepEqual(loadConfig({ env: {} }).regions, {});
    assert.equal(loadConfig({ env: {} }).replicationRetrySeconds, 30);
    for (const bad of ['not json', '{"eu-west-1":{"endpoint":"ftp://x"}}', '{"Europe":{"endpoint":"https://x"}}']) {
      assert.throws(
        () => loadConfig({ env: { BERTH_REGIONS: bad } }),
        (e: unknown) => e instanceof ConfigError && /BERTH_REGIONS/.test(e.message),
      );
    }
  });

  it('names the bad key and where it came from', () => {
    assert.throws(
      () => loadConfig({ env: { BERTH_PORT: 'eighty' } }),
      (e: unknown) => e instanceof ConfigError && /BERTH_PORT/.test(e.message),
    );
    assert.throws(
      () => loadConfig({ env: {}, flags: { port: '70000' } }),
      (e: unknown) => e instanceof ConfigError && /--port/.test(e.message),
    );
    const dir = mkdtempSync(join(tmpdir(), 'berth-config-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ prot: 1 }));
    assert.throws(
      () => loadConfig({ file, env: {} }),
      (e: unknown) => e instanceof ConfigError && /prot/.test(e.message),
    );
    writeFileSync(file, '{not json');
    assert.throws(
      () => loadConfig({ file, env: {} }),
      (e: unknown) => e instanceof ConfigError && /cannot read config file/.test(e.message),
    );
  });

  it('takes a TLS certificate and key together, naming the one missing', () => {
    const c = loadConfig({ env: { BERTH_TLS_CERT: '/etc/berth/tls.crt', BERTH_TLS_KEY: '/etc/berth/tls.key' } });
    assert.equal(c.tlsCert, '/etc/berth/tls.crt');
    assert.equal(c.tlsKey, '/etc/berth/tls.key');
    assert.throws(
      () => loadConfig({ env: { BERTH_TLS_CERT: '/etc/berth/tls.crt' } }),
      (e: unknown) => e instanceof ConfigError && /tlsKey: tlsCert and tlsKey go together/.test(e.message),
    );
    assert.throws(
      () => loadConfig({ env: {}, flags: { tlsKey: '/k' } }),
      (e: unknown) => e instanceof ConfigError && /tlsCert: /.test(e.message),
    );
  });
});
