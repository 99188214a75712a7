#!/usr/bin/env node
/** The `berth` command. */
import { parseArgs } from 'node:util';
import { createApp } from '../app/app.js';
import { IdentityError } from '../auth/identity-admin.js';
import { S3LocationError } from '../blobstore/s3/s3-location.js';
import { RegistryError } from '../core/errors.js';
import { PolicyNotFound } from '../registry/policies.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { ADMIN_USAGE, admin } from './admin.js';
import { GC_USAGE, gcCommand } from './gc.js';
import { LIFECYCLE_USAGE, lifecycle } from './lifecycle.js';
import { VULNDB_USAGE, vulndb } from './vulndb.js';
import { TlsConfigError } from '../http/tls.js';
import { CertificateRequestError } from '../tls/dev-certificates.js';
import { TLS_USAGE, tlsCommand } from './tls.js';

const USAGE = `usage: berth <command> [options]

commands:
  serve           run the registry
    --config FILE   JSON config file (or BERTH_CONFIG)
    --host HOST     listen address (BERTH_HOST, default 0.0.0.0)
    --port PORT     listen port (BERTH_PORT, default 5000)
    --data-dir DIR  metadata and blobs (BERTH_DATA_DIR, default ./data)
    --tls-cert FILE --tls-key FILE
                    serve HTTPS with this PEM certificate and key (BERTH_TLS_CERT, BERTH_TLS_KEY);
                    re-read on SIGHUP and when the files change
  verify-config   validate the configuration and print it (secrets redacted)
${TLS_USAGE}${ADMIN_USAGE}${LIFECYCLE_USAGE}${GC_USAGE}${VULNDB_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // `admin <sub>` flags are the subcommand's own; it reads --config and --data-dir itself.
  if (command === 'admin') return admin(rest);
  if (command === 'lifecycle') return lifecycle(rest);
  if (command === 'vulndb') return vulndb(rest);
  if (command === 'tls') return tlsCommand(rest);
  if (command === 'gc' || command === 'usage') return gcCommand(command, rest);
  if (command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      'log-level': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  const config = loadConfig({
    ...(values.config !== undefined && { file: values.config }),
    flags: { host: values.host, port: values.port, dataDir: values['data-dir'], logLevel: values['log-level'], tlsCert: values['tls-cert'], tlsKey: values['tls-key'] },
  });
  switch (command) {
    case 'verify-config':
      process.stdout.write(
        JSON.stringify(
          {
            ...config,
            ...(config.serverKey !== undefined && { serverKey: '(redacted)' }),
            ...(config.s3SecretAccessKey !== undefined && { s3SecretAccessKey: '(redacted)' }),
            ...(config.s3SessionToken !== undefined && { s3SessionToken: '(redacted)' }),
            ...(config.databaseUrl !== undefined && { databaseUrl: config.databaseUrl.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:(redacted)@') }),
          },
          null,
          2,
        ) + '\n',
      );
      return 0;
    case 'serve':
      return serve(config);
    default:
      process.stderr.write(`berth: unknown command ${command}\n${USAGE}`);
      return 2;
  }
}

async function serve(config: ReturnType<typeof loadConfig>): Promise<number> {
  const app = await createApp(config);
  // Only with TLS: without it there is nothing to reload, and SIGHUP keeps its usual meaning.
  if (config.tlsCert !== undefined) process.on('SIGHUP', () => app.reloadTls());
  const port = await app.listen();
  app.log.info({ host: config.host, port, dataDir: config.dataDir, scheme: config.tlsCert !== undefined ? 'https' : 'http' }, 'listening');
  await new Promise<void>((res) => {
    const stop = () => res();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  app.log.info('shutting down');
  await app.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof IdentityError || err instanceof RegistryError || err instanceof PolicyNotFound) {
      process.stderr.write(`berth: ${err.message}\n`);
      process.exit(1);
    }
    if (err instanceof ConfigError || err instanceof S3LocationError || err instanceof TlsConfigError || err instanceof CertificateRequestError || (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`berth: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`berth: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
