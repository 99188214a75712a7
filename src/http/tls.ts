/**
 * HTTPS for the one port: the key pair (the server itself, h2 and HTTP/1.1, is h2.ts's), and the
 * certificate's reload on demand (SIGHUP) or when its files change. A reload swaps the
 * secure context for new connections only; open connections keep theirs, so none is dropped.
 * A pair that cannot be used (unreadable, unparsable, key not matching) is logged and the
 * previous one kept.
 */
import { watch, type FSWatcher, readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';

export interface TlsFiles {
  /** PEM certificate (chain), server certificate first. */
  cert: string;
  /** PEM private key. */
  key: string;
}

export interface KeyPair {
  cert: Buffer;
  key: Buffer;
}

export class TlsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlsConfigError';
  }
}

/** Files change in steps (a cert, then its key): a reload waits for them to settle. */
const SETTLE_MS = 300;

/** Reads and checks a pair: readable, parsable, and the key belongs to the certificate. */
export function readKeyPair(files: TlsFiles): KeyPair {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new TlsConfigError(`cannot read the TLS ${what} ${path}: ${(e as Error).message}`);
    }
  };
  const pair = { cert: read(files.cert, 'certificate (tlsCert)'), key: read(files.key, 'key (tlsKey)') };
  try {
    new X509Certificate(pair.cert);
  } catch (e) {
    throw new TlsConfigError(`the TLS certificate (tlsCert) ${files.cert} is not a PEM certificate: ${(e as Error).message}`);
  }
  try {
    createSecureContext(pair);
  } catch (e) {
    throw new TlsConfigError(`the TLS certificate ${files.cert} and key ${files.key} cannot be used together: ${(e as Error).message}`);
  }
  return pair;
}

/** What a log line says about a served certificate. */
export function describeCertificate(cert: Buffer): { subject: string; serialNumber: string; fingerprint256: string; validTo: string } {
  const x = new X509Certificate(cert);
  return { subject: x.subject.replace(/\n/g, ', '), serialNumber: x.serialNumber, fingerprint256: x.fingerprint256, validTo: x.validTo };
}

/** A TLS server (https or h2): new connections get the context set last, open ones keep theirs. */
export interface SecureServer {
  setSecureContext(options: SecureContextOptions): void;
}

export function isHttps(server: object): server is SecureServer {
  return 'setSecureContext' in server;
}

/** Swaps a running HTTPS server's certificate when asked to, or when its files change. */
export class CertificateReloader {
  private current: KeyPair;
  /** The last pair refused, so that unrelated events in the directory do not log it again. */
  private refused: KeyPair | undefined;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly server: SecureServer,
    private readonly files: TlsFiles,
    initial: KeyPair,
    private readonly log: Logger,
  ) {
    this.current = initial;
  }

  /** Re-reads the files now; true when a new pair is being served. */
  reload(reason: string): boolean {
    let pair: KeyPair;
    try {
      pair = readKeyPair(this.files);
    } catch (e) {
      this.log.error({ reason, err: (e as Error).message }, 'TLS certificate reload failed; still serving the previous certificate');
      return false;
    }
    if (same(pair, this.current)) return false;
    this.server.setSecureContext(pair);
    this.current = pair;
    this.refused = undefined;
    this.log.info({ reason, ...describeCertificate(pair.cert) }, 'TLS certificate reloaded');
    return true;
  }

  /**
   * Watches the files' directories, not the files: a replace by rename (how editors, cert-manager
   * and `berth tls init` write) gives the path a new inode that a watch on the old one never sees.
   */
  watch(): void {
    const dirs = new Map<string, Set<string>>();
    for (const file of [this.files.cert, this.files.key]) {
      const path = resolve(file);
      const names = dirs.get(dirname(path)) ?? new Set<string>();
      names.add(basename(path));
      dirs.set(dirname(path), names);
    }
    for (const [dir, names] of dirs) {
      try {
        const watcher = watch(dir, { persistent: false }, (_event, name) => {
          // Kubernetes-style secret volumes swap a `..data` symlink rather than the named files,
          // and some platforms give no name at all: those events count too.
          if (name === null || names.has(name) || name.startsWith('..')) this.schedule();
        });
        watcher.on('error', (err) => this.log.warn({ dir, err: err.message }, 'stopped watching the TLS certificate directory; SIGHUP still reloads'));
        this.watchers.push(watcher);
      } catch (e) {
        this.log.warn({ dir, err: (e as Error).message }, 'cannot watch the TLS certificate directory; SIGHUP still reloads');
      }
    }
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reloadIfChanged(), SETTLE_MS);
    this.timer.unref();
  }

  /** A file event: quiet when nothing changed, and a refused pair is logged once, not per event. */
  private reloadIfChanged(): void {
    let pair: KeyPair | undefined;
    try {
      pair = { cert: readFileSync(this.files.cert), key: readFileSync(this.files.key) };
    } catch {
      pair = undefined;
    }
    if (pair && (same(pair, this.current) || (this.refused && same(pair, this.refused)))) return;
    if (!this.reload('files changed') && pair) this.refused = pair;
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}

function same(a: KeyPair, b: KeyPair): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key);
}

/** Whether a listen address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\./.test(h) || /^::ffff:127\./.test(h);
}
