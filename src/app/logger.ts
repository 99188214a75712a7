/**
 * The server's loggers: pino JSON for machines (stdout is not a terminal), readable lines for a
 * person at a terminal, as logFormat says; and the access-log file. Writes are asynchronous
 * (sonic-boom, flushed by pino at exit), so logging never blocks the event loop on a disk or a pipe.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { isatty } from 'node:tty';
import { pino, type Logger } from 'pino';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { prettyLine } from './pretty-log.js';

/**
 * Lines are gathered up to this many bytes per write, so a busy server makes a few large writes
 * rather than one system call per request; a quiet one still shows each line within FLUSH_MS.
 * pino flushes what is left when the process exits.
 */
const BUFFER_BYTES = 4096;
const FLUSH_MS = 500;

type Destination = ReturnType<typeof pino.destination>;

function buffered(dest: Destination): Destination & { flusher: NodeJS.Timeout } {
  const flusher = setInterval(() => {
    try {
      dest.flush();
    } catch {
      // closed at shutdown: nothing left to write
    }
  }, FLUSH_MS).unref();
  return Object.assign(dest, { flusher });
}

export interface LoggerOptions {
  /** 1 (stdout, the default) or 2 (stderr, for commands whose stdout is a report). */
  fd?: 1 | 2;
  /** Fields on every line besides service. */
  bindings?: Record<string, unknown>;
}

export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, opts: LoggerOptions = {}): Logger {
  const fd = opts.fd ?? 1;
  const options = { level: config.logLevel, base: { service: 'berth', ...opts.bindings } };
  const terminal = isatty(fd);
  // A person watching a terminal sees each line at once; the load there is a person's.
  const dest = buffered(pino.destination({ dest: fd, sync: false, minLength: terminal ? 0 : BUFFER_BYTES }));
  if ((config.logFormat ?? (terminal ? 'pretty' : 'json')) === 'json') return pino(options, dest);
  return pino(options, { write: (line: string) => dest.write(prettyLine(line, terminal)) });
}

/**
 * The access-log file (config accessLog): JSON lines appended, whatever the log level and
 * format of standard output, for tools to read. `reopen` starts a new file at the same path
 * after logrotate has moved the old one away (SIGHUP); `close` flushes what is buffered.
 */
export function createAccessLogFile(path: string): { log: Logger; reopen(): void; close(): void } {
  // Tried here, at start, so a path that cannot be written is a clear start-up error.
  try {
    mkdirSync(dirname(path), { recursive: true });
    closeSync(openSync(path, 'a', 0o640));
  } catch (e) {
    throw new ConfigError(`accessLog: cannot open ${path}: ${(e as Error).message}`);
  }
  const dest = buffered(pino.destination({ dest: path, append: true, mode: 0o640, sync: false, minLength: BUFFER_BYTES }));
  const log = pino({ level: 'info', base: { service: 'berth' } }, dest);
  return {
    log,
    reopen() {
      // Nothing is lost: lines still buffered are written to whichever file is open when they go out.
      dest.reopen();
    },
    close() {
      clearInterval(dest.flusher);
      dest.end();
    },
  };
}
