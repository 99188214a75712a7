/**
 * The cheapest blob server Node can be, for the pull ceiling (pull-ceiling.ts): every GET answers
 * the same body from memory with one write (no disk, no cipher, no routing). argv: the body's bytes.
 * Prints its port on stdout once listening.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

const bytes = Number(process.argv[2]);
if (!Number.isSafeInteger(bytes) || bytes <= 0) {
  console.error(`bare-blob-server: a body size in bytes, not "${process.argv[2]}"`);
  process.exit(1);
}
const body = randomBytes(bytes);
const server = createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('bare-blob-server: no TCP address');
  process.stdout.write(`${address.port}\n`);
});
