/**
 * Prometheus metrics (issue #15 point 3) against a real Berth process: the listener is off by
 * default and, when on, a port of its own that serves only /metrics; a scrape parses strictly as
 * the Prometheus text format; a skopeo push and pull move the request counters and byte counters
 * by exactly what crossed the wire, and a manifest GET (not a HEAD) counts as a repository pull.
 */
import assert from 'node:assert/strict';
import { readdir, readlink, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, repoRoot, startBerth, tempDir, type BerthProcess } from './helpers/berth-process.js';
import { blobPath, buildImageLayout, type BuiltImage } from './helpers/oci-layout.js';
import { parsePrometheusText, scrape, sampleSum, type Exposition } from './helpers/prometheus-text.js';
import { getBlob, getManifest } from './helpers/registry-http.js';
import { createSkopeo, type Skopeo } from './helpers/skopeo.js';
import { waitFor } from './helpers/wait-for.js';
import { canTrimMalloc } from '../../src/core/malloc-trim.js';

/** TCP ports process `pid` listens on, from /proc (its socket inodes in the listening state). */
async function listeningPorts(pid: number): Promise<number[]> {
  return [...new Set((await listening(pid)).map((l) => l.port))].sort((a, b) => a - b);
}

/** The process's listening TCP sockets: each one's port and local address as /proc writes it (0100007F: 127.0.0.1). */
async function listening(pid: number): Promise<Array<{ port: number; address: string }>> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) inodes.add(m[1]!);
  }
  const out: Array<{ port: number; address: string }> = [];
  for (const table of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT; st 0A is LISTEN; the inode is the tenth field.
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9]!)) {
        const [address, port] = f[1]!.split(':');
        out.push({ port: Number.parseInt(port!, 16), address: address! });
      }
    }
  }
  return out;
}

describe('the strict Prometheus text parser (test helper)', () => {
  it('reads samples with labels and escapes, and rejects malformed lines', () => {
    const ok = parsePrometheusText(
      '# HELP x_total a help\n# TYPE x_total counter\nx_total{a="1",b="q\\"\\\\"} 3\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 0.5\nh_count 2\n',
    );
    assert.equal(sampleSum(ok, 'x_total', { b: 'q"\\' }), 3);
    assert.equal(sampleSum(ok, 'h_count'), 2);
    for (const bad of [
      'x_total 1\n', // no TYPE
      '# TYPE x_total counter\nx_total{a=1} 1\n', // unquoted value
      '# TYPE x_total counter\nx_total{a="1"} one\n', // not a number
      '# TYPE x_total counter\nx_total{a="1",a="2"} 1\n', // a label twice
      '# TYPE x_total counter\nx_total 1', // no final newline
      '# TYPE x_total countr\n', // unknown type
      '# TYPE x_total counter\nx_total{a="1"}1\n', // no space before the value
    ]) {
      assert.throws(() => parsePrometheusText(bad), Error, JSON.stringify(bad));
    }
  });
});

describe('metrics listener', () => {
  it('is off by default: the server listens on its API port only, and /metrics there is 404', async () => {
    const berth = await startBerth();
    try {
      assert.deepEqual(await listeningPorts(berth.child.pid!), [berth.port]);
      const res = await fetch(`${berth.url}/metrics`);
      await res.arrayBuffer();
      assert.equal(res.status, 404);
    } finally {
      await berth.cleanup();
    }
  });

  it('listens on loopback unless metricsHost says where, even when the API listens on every address', async () => {
    const port = await freePort();
    const berth = await startBerth({ args: ['--host', '0.0.0.0'], env: { BERTH_METRICS_PORT: String(port) } });
    try {
      // The metrics listener opens in its own thread, after the API's.
      const sockets = await waitFor('the metrics listener', async () => {
        const now = await listening(berth.child.pid!);
        return now.some((l) => l.port === port) && now;
      });
      assert.deepEqual(sockets.find((l) => l.port === berth.port)?.address, '00000000', 'the API on every address');
      assert.deepEqual(
        sockets.filter((l) => l.port === port).map((l) => l.address),
        ['0100007F'],
        "metrics name every account's repositories: loopback only",
      );
    } finally {
      await berth.cleanup();
    }
  });
});

describe('metrics on a port of their own', () => {
  let berth: BerthProcess;
  let metricsUrl: string;
  let metricsPort: number;
  let skopeo: Skopeo;
  let work: string;
  let image: BuiltImage;
  let blobBytes: number;
  const repo = 'metrics/app';

  before(async () => {
    work = await tempDir('berth-metrics-work-');
    image = await buildImageLayout(join(work, 'src'), { layers: 2, layerBytes: [300 * 1024, 5000], tag: 'app' });
    blobBytes = image.layers.reduce((n, l) => n + l.size, 0) + (await stat(blobPath(join(work, 'src'), image.configDigest))).size;
    metricsPort = await freePort();
    [berth, skopeo] = await Promise.all([startBerth({ env: { BERTH_METRICS_PORT: String(metricsPort) } }), createSkopeo()]);
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    await waitFor('the metrics listener', () =>
      fetch(metricsUrl)
        .then((r) => r.arrayBuffer().then(() => r.status === 200))
        .catch(() => false),
    );
  });

  after(async () => {
    await berth?.cleanup();
    await skopeo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('listens apart from the API: each port answers only its own paths', async () => {
    assert.deepEqual(
      await listeningPorts(berth.child.pid!),
      [berth.port, metricsPort].sort((a, b) => a - b),
    );
    for (const url of [`http://127.0.0.1:${metricsPort}/v2/`, `${berth.url}/metrics`, `http://127.0.0.1:${metricsPort}/`]) {
      const res = await fetch(url, { headers: { authorization: berth.authorization } });
      await res.arrayBuffer();
      assert.equal(res.status, 404, url);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', url);
    }
    const answer = await fetch(metricsUrl);
    await answer.arrayBuffer();
    assert.equal(answer.headers.get('x-content-type-options'), 'nosniff');
    const e = await scrape(metricsUrl);
    assert.equal(e.types.get('berth_http_requests_total'), 'counter');
    assert.equal(e.types.get('berth_http_request_duration_seconds'), 'histogram');
    for (const gauge of [
      'berth_upload_sessions',
      'berth_data_dir_free_bytes',
      'berth_repository_storage_bytes',
      'berth_jobs_queued',
      'berth_replication_lag_seconds',
      'berth_upload_seal_slots_resident_bytes',
    ]) {
      assert.equal(e.types.get(gauge), 'gauge', gauge);
    }
    assert.ok(sampleSum(e, 'berth_data_dir_free_bytes') > 0);
    // prom-client's defaults, but its per-collection GC histogram (src/metrics/default-metrics.ts).
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
      assert.ok(e.types.has(name), `${name} is served`);
    }
    assert.ok(!e.types.has('nodejs_gc_duration_seconds'), 'no GC observer');
  });

  it('counts a skopeo push and pull: requests, exact bytes in and out, pulls per repository', async () => {
    const delta = (a: Exposition, b: Exposition, name: string, labels: Record<string, string>) => sampleSum(b, name, labels) - sampleSum(a, name, labels);
    const oci = (operation: string) => ({ api: 'oci', operation });
    const pushedBytes = (e: Exposition) =>
      sampleSum(e, 'berth_http_received_bytes_total', oci('upload-write')) + sampleSum(e, 'berth_http_received_bytes_total', oci('upload-complete'));

    const before = await scrape(metricsUrl);
    await skopeo.copy(`oci:${join(work, 'src')}:app`, `docker://${berth.host}/${repo}:v1`, ['--preserve-digests']);
    // Counted when each response closes, which may be just after the client has it.
    const pushed = await waitFor('the manifest put counted', async () => {
      const e = await scrape(metricsUrl);
      return delta(before, e, 'berth_http_requests_total', { ...oci('manifest-write'), code: '201' }) >= 1 && e;
    });
    assert.equal(delta(before, pushed, 'berth_http_requests_total', { ...oci('manifest-write'), code: '201' }), 1);
    assert.equal(delta(before, pushed, 'berth_http_request_duration_seconds_count', { ...oci('manifest-write'), status_class: '2xx' }), 1);
    assert.equal(delta(before, pushed, 'berth_http_received_bytes_total', oci('manifest-write')), image.manifestSize);
    assert.equal(pushedBytes(pushed) - pushedBytes(before), blobBytes, 'upload bodies: every blob once');
    assert.equal(sampleSum(pushed, 'berth_upload_sessions'), 0, 'no session left open');
    // The 300 KiB layer went through seal slots, whose pages stay until uploads have been quiet a
    // while, and a few free slots' after that (blobstore/encrypted/seal-pool.ts IDLE_SLOTS).
    if (canTrimMalloc()) assert.ok(sampleSum(pushed, 'berth_upload_seal_slots_resident_bytes', { block: 'budget' }) > 0, 'the seal slots touched');

    const out = join(work, 'out');
    await skopeo.copy(`docker://${berth.host}/${repo}:v1`, `oci:${out}:v1`);
    const pulled = await waitFor('the blob reads counted', async () => {
      const e = await scrape(metricsUrl);
      return delta(pushed, e, 'berth_http_sent_bytes_total', oci('blob-read')) >= blobBytes && e;
    });
    assert.equal(delta(pushed, pulled, 'berth_http_sent_bytes_total', oci('blob-read')), blobBytes, 'every blob sent once');
    const manifestGets = delta(pushed, pulled, 'berth_repository_pulls_total', { registry_id: '000000000000:us-east-1', repository: repo });
    assert.ok(manifestGets >= 1, 'skopeo read the manifest');
    assert.equal(delta(pushed, pulled, 'berth_http_sent_bytes_total', oci('manifest-read')), manifestGets * image.manifestSize);

    // Exactly one more pull for a GET; a HEAD and a blob GET are not pulls.
    assert.equal((await getManifest(berth.url, repo, 'v1', 'HEAD')).status, 200);
    assert.equal((await getBlob(berth.url, repo, image.configDigest)).status, 200);
    assert.equal((await getManifest(berth.url, repo, 'v1')).status, 200);
    const last = await waitFor('the manifest GET counted', async () => {
      const e = await scrape(metricsUrl);
      return delta(pulled, e, 'berth_http_requests_total', { ...oci('manifest-read'), code: '200' }) >= 2 && e;
    });
    assert.equal(delta(pulled, last, 'berth_repository_pulls_total', { repository: repo }), 1);
  });

  it('serves every metric the Grafana dashboard and the README alert rules name', async () => {
    const e = await scrape(metricsUrl);
    const dashboard = await readFile(join(repoRoot, 'docs/grafana-dashboard.json'), 'utf8');
    const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
    const alerts = /^## Metrics$[\s\S]*?```yaml\n([\s\S]*?)```/m.exec(readme)?.[1];
    assert.ok(alerts, 'the README has alert rules under Metrics');
    const named = new Set([...`${dashboard}\n${alerts}`.matchAll(/\b(?:berth|nodejs|process)_[a-z0-9_]+/g)].map((m) => m[0]));
    assert.ok(named.size >= 15, `the dashboard names the metrics (${named.size})`);
    for (const name of named) {
      const family = e.types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
      assert.ok(e.types.has(family), `${name} is served`);
    }
  });

  it('keeps request labels bounded: an unknown JSON-API action counts as unknown, not by its name', async () => {
    const before = await scrape(metricsUrl);
    const res = await fetch(berth.url, {
      method: 'POST',
      headers: { 'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.NoSuchAction42', 'content-type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    await res.arrayBuffer();
    assert.equal(res.status, 400);
    const after = await waitFor('the request counted', async () => {
      const e = await scrape(metricsUrl);
      return sampleSum(e, 'berth_http_requests_total', { code: '400' }) > sampleSum(before, 'berth_http_requests_total', { code: '400' }) && e;
    });
    assert.ok(!after.samples.some((s) => Object.values(s.labels).some((v) => v.includes('NoSuchAction42'))));
  });
});
