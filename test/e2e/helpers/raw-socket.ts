/**
 * A raw TCP connection to Berth, for tests that must misbehave as no HTTP client library would:
 * send half a request, trickle a body, or sit silent.
 */
import { connect, type Socket } from 'node:net';

export interface RawConnection {
  readonly socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** Resolves when the server closed (or reset) the connection. */
  readonly closed: Promise<void>;
  /** Resolves with the status line and headers of the first response. */
  readonly head: Promise<string>;
  isClosed(): boolean;
}

export async function openRaw(port: number): Promise<RawConnection> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((res, rej) => {
    socket.once('connect', res);
    socket.once('error', rej);
  });
  // A reset by the server is one way of closing; the test looks at `closed`, not at errors.
  socket.on('error', () => undefined);
  let data = '';
  let closed = false;
  let gotHead: (head: string) => void = () => undefined;
  const head = new Promise<string>((res) => (gotHead = res));
  socket.on('data', (d: Buffer) => {
    data += d.toString('latin1');
    const end = data.indexOf('\r\n\r\n');
    if (end >= 0) gotHead(data.slice(0, end));
  });
  const closedP = new Promise<void>((res) =>
    socket.once('close', () => {
      closed = true;
      res();
    }),
  );
  return { socket, received: () => data, closed: closedP, head, isClosed: () => closed };
}

/** Writes, resolving once the bytes are handed to the kernel; false if the socket is gone. */
export function write(socket: Socket, chunk: string | Buffer): Promise<boolean> {
  if (socket.destroyed || !socket.writable) return Promise.resolve(false);
  return new Promise((res) => socket.write(chunk, (err) => res(!err)));
}

/** Races a promise against a generous upper bound, so a test that would hang fails instead. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_res, rej) => {
    timer = setTimeout(() => rej(new Error(`${what}: not within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([p, bound]);
  } finally {
    clearTimeout(timer);
  }
}
