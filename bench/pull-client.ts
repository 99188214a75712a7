/**
 * The bench's Node-client pull, run as a process of its own: GETs each blob URL in turn with
 * `http.request` and counts the bytes of every 'data' event, then prints one JSON line with the
 * bytes, the seconds from the first request to the last byte, and this process's CPU over the same
 * span.
 *
 * Why a process of its own: Node's HTTP client copies each body piece into a fresh Buffer, and
 * that external memory sets off a collection every ~16 MiB received (~60 per GiB), whose cost
 * grows with the heap kept alive. Measured (a bare Node server, 3 × 256 MiB, 4 rounds alternated,
 * load 7–13): 1.5–1.7 CPU-s/GiB with a 6 MB heap, 3.1–3.9 with 49 MB and 5.4–7.2 with 149 MB kept
 * alive. Inside the bench's process (SDK clients, layouts, figures) the pull line measured the
 * bench's heap at that moment more than either server.
 *
 * It also counts the body's 'data' events: one per socket read (Node reads at most 64 KiB at a
 * time), so reads per GiB say whether a server's way of writing (piece sizes, pacing) makes its
 * client read in smaller steps, each costing the client a read and a JavaScript event. Measured in
 * session 21: ~16,400 per GiB from Berth and from the reference alike (95-100 % of them full 64 KiB).
 *
 * With `--reader=reused-buffer` first it reads through reused-buffer-get.ts instead (one buffer
 * for every read, as curl and Go's clients read), which says why the bench has both.
 *
 * argv: [--reader=reused-buffer], the request headers as JSON, then the URLs.
 */
import { request } from 'node:http';
import { readBuffer, reusedBufferGet } from './reused-buffer-get.js';

let reads = 0;

function get(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        reads++;
      });
      res.on('end', () => (res.statusCode === 200 ? resolve(bytes) : reject(new Error(`GET ${url} answered ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const reader = args[0]?.startsWith('--reader=') ? args.shift()!.slice('--reader='.length) : 'node-http';
  if (reader !== 'node-http' && reader !== 'reused-buffer') throw new Error(`--reader: no reader named ${reader}`);
  const [headersJson, ...urls] = args;
  const headers = JSON.parse(headersJson ?? '{}') as Record<string, string>;
  const buffer = readBuffer();
  const count = { reads: 0 };
  const cpu = process.cpuUsage();
  const t = performance.now();
  let bytes = 0;
  for (const url of urls) bytes += reader === 'node-http' ? await get(url, headers) : await reusedBufferGet(url, headers, buffer, count);
  const seconds = (performance.now() - t) / 1000;
  const used = process.cpuUsage(cpu);
  process.stdout.write(`${JSON.stringify({ reader, bytes, seconds, cpuSeconds: (used.user + used.system) / 1e6, reads: reads + count.reads })}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
