/**
 * `berth serve` (run the registry) and `berth verify-config` (print the configuration it would
 * run with). Both take a flag for every configuration key.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Command } from './command.js';
import { configOptions } from './config-flags.js';

export const serveCommands: Command[] = [
  {
    words: ['serve'],
    summary: 'run the registry (creates the data directory on first start)',
    details:
      "Every configuration key is a flag, an environment variable and a key of the --config file;\nflags override the environment, which overrides the file. Once listening, the log says\n'ready' with the URL and the admin credentials file.",
    options: configOptions(),
    example: 'berth serve --port 5000 --data-dir /var/lib/berth',
    dataDir: 'creates',
    run: ({ config }) => serve(config),
  },
  {
    words: ['verify-config'],
    summary: 'validate the configuration and print it (secrets redacted)',
    options: configOptions(),
    example: 'berth verify-config --config berth.json --port 8080',
    dataDir: 'none',
    async run({ config }) {
      process.stdout.write(JSON.stringify(redacted(config), null, 2) + '\n');
      return 0;
    },
  },
];

function redacted(config: Config): Config {
  return {
    ...config,
    ...(config.serverKey !== undefined && { serverKey: '(redacted)' }),
    ...(config.s3SecretAccessKey !== undefined && { s3SecretAccessKey: '(redacted)' }),
    ...(config.s3SessionToken !== undefined && { s3SessionToken: '(redacted)' }),
    ...(config.databaseUrl !== undefined && { databaseUrl: config.databaseUrl.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:(redacted)@') }),
  };
}

async function serve(config: Config): Promise<number> {
  const { createApp } = await import('../app/app.js');
  const app = await createApp(config);
  // Only with something to reload (TLS, an access-log file); otherwise SIGHUP keeps its usual meaning.
  if (config.tlsCert !== undefined || config.accessLog !== undefined) {
    process.on('SIGHUP', () => {
      app.reopenLogs();
      app.reloadTls();
    });
  }
  const port = await app.listen();
  const ready = readyLine(config, port);
  app.log.info(ready, `ready on ${ready.url}`);
  await new Promise<void>((res) => {
    const stop = () => res();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  app.log.info('shutting down');
  await app.close();
  return 0;
}

/**
 * What a newcomer needs once the server listens, and what a script waits for: one log line,
 * message "ready on URL", with the URL to use and where the admin key is (the file exists on the node
 * that created the key: the first start of a data directory).
 */
function readyLine(config: Config, port: number): { url: string; dataDir: string; credentials?: string } {
  const wildcard = config.host === '0.0.0.0' || config.host === '::';
  const host = wildcard ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const dataDir = resolve(config.dataDir);
  const credentials = join(dataDir, 'admin-credentials');
  const scheme = config.tlsCert !== undefined ? 'https' : 'http';
  return { url: `${scheme}://${host}:${port}`, dataDir, ...(existsSync(credentials) && { credentials }) };
}
