/**
 * The built console app (`dist/console/`, or the `consoleDir` configured): index.html for
 * `/console/` and every deep link (the app routes on the client), the files of `assets/` and
 * the top-level files beside index.html. No path is ever built from a request: a name is served
 * only if it is one of the names found by listing the directory (read at start, and again at
 * most once a second when a name is missing, so a rebuild needs no restart).
 */
import { createReadStream, readdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Clock } from '../../core/clock.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};

/** A name worth serving: no leading dot, no separators, nothing to decode. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;
/** esbuild's `[name]-[hash]`: content-addressed, so cached for good. */
const HASHED = /-[A-Za-z0-9_]{8,}\.[a-z0-9]+$/;
const RESCAN_MS = 1000;

interface Listing {
  hasIndex: boolean;
  assets: ReadonlySet<string>;
  topLevel: ReadonlySet<string>;
}

function files(dir: string): Set<string> {
  try {
    return new Set(
      readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isFile() && SAFE_NAME.test(e.name))
        .map((e) => e.name),
    );
  } catch {
    return new Set();
  }
}

export class ConsoleFiles {
  private listing: Listing;
  private scannedAt: number;

  constructor(
    readonly dir: string,
    private readonly clock: Clock,
  ) {
    this.listing = this.scan();
    this.scannedAt = clock.now().getTime();
  }

  private scan(): Listing {
    const top = files(this.dir);
    const hasIndex = top.delete('index.html');
    return { hasIndex, assets: files(join(this.dir, 'assets')), topLevel: top };
  }

  /** The listing, read again when `wanted` is not in it and the last reading is a second old. */
  private current(wanted: (l: Listing) => boolean): Listing {
    const now = this.clock.now().getTime();
    if (!wanted(this.listing) && now - this.scannedAt >= RESCAN_MS) {
      this.listing = this.scan();
      this.scannedAt = now;
    }
    return this.listing;
  }

  /** Serves `sub`, the path after `/console/` (undecoded), for GET or HEAD. */
  async serve(req: IncomingMessage, res: ServerResponse, sub: string): Promise<void> {
    if (sub.startsWith('assets/')) {
      const name = sub.slice('assets/'.length);
      if (!this.current((l) => l.assets.has(name)).assets.has(name)) return notFound(res);
      return this.send(req, res, join(this.dir, 'assets', name), name);
    }
    if (sub !== '' && !sub.includes('/') && this.current((l) => l.topLevel.has(sub)).topLevel.has(sub)) {
      return this.send(req, res, join(this.dir, sub), sub);
    }
    if (!this.current((l) => l.hasIndex).hasIndex) return notBuilt(res);
    return this.send(req, res, join(this.dir, 'index.html'), 'index.html');
  }

  private async send(req: IncomingMessage, res: ServerResponse, path: string, name: string): Promise<void> {
    let size: number;
    try {
      const st = await stat(path);
      if (!st.isFile()) return notFound(res);
      size = st.size;
    } catch {
      return notFound(res);
    }
    const ext = name.includes('.') ? name.slice(name.lastIndexOf('.')) : '';
    res.writeHead(200, {
      'Content-Type': TYPES[ext] ?? 'application/octet-stream',
      'Content-Length': size,
      'Cache-Control': name !== 'index.html' && HASHED.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await pipeline(createReadStream(path), res).catch(() => res.destroy());
  }
}

function notFound(res: ServerResponse): void {
  const body = 'Not found\n';
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Berth console not built</title></head>
<body><h1>The console has not been built</h1>
<p>This Berth serves its API, but the web console's files are missing. Build them (see the README, section "Console"),
or point <code>consoleDir</code> at a built console, then reload this page.</p></body></html>
`;

function notBuilt(res: ServerResponse): void {
  res.writeHead(503, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(NOT_BUILT), 'Cache-Control': 'no-store' });
  res.end(NOT_BUILT);
}
