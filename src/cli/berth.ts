/**
 * The `berth` command: one table of commands, from which parsing and help are derived. Started by
 * main.ts once the runtime is known to be new enough.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adminCommands } from './admin.js';
import { CliError } from './command.js';
import { demoImageCommands } from './demo-image.js';
import { dispatch, type Program } from './dispatch.js';
import { gcCommands } from './gc.js';
import { lifecycleCommands } from './lifecycle.js';
import { serveCommands } from './serve.js';
import { tlsCommands } from './tls.js';
import { usageCommands } from './usage.js';
import { vulndbCommands } from './vulndb.js';

/** package.json's version: found upward from this file (dist/src/cli when built). */
function version(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'berth' && pkg.version) return pkg.version;
    } catch {
      // not here; look further up
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

const program: Program = {
  name: 'berth',
  version: version(),
  description: 'a container registry that speaks OCI Distribution and the Amazon ECR API',
  commands: [
    ...serveCommands,
    ...tlsCommands,
    ...demoImageCommands,
    ...adminCommands,
    ...gcCommands,
    ...usageCommands,
    ...lifecycleCommands,
    ...vulndbCommands,
  ],
};

/** File-system errors a user causes (a wrong path, a file where a directory should be). */
const USER_FS_ERRORS = new Set(['ENOENT', 'EEXIST', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM', 'ENOSPC']);

/**
 * What the process prints and exits with when a command fails. The error classes of the
 * registry's modules are loaded here, on failure, and not at start: `berth --help` and a usage
 * error then load the command table alone (a fraction of Berth's ~670 modules).
 */
async function failed(err: unknown): Promise<never> {
  if (err instanceof CliError) {
    process.stderr.write(`berth: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  const [{ IdentityError }, { RegistryError }, { PolicyNotFound }, { ConfigError }, { S3LocationError }, { TlsConfigError }, { CertificateRequestError }] =
    await Promise.all([
      import('../auth/identity-admin.js'),
      import('../core/errors.js'),
      import('../registry/policies.js'),
      import('../config/load.js'),
      import('../blobstore/s3/s3-location.js'),
      import('../http/tls.js'),
      import('../tls/dev-certificates.js'),
    ]);
  if (err instanceof IdentityError || err instanceof RegistryError || err instanceof PolicyNotFound) {
    process.stderr.write(`berth: ${err.message}\n`);
    process.exit(1);
  }
  if (err instanceof ConfigError || err instanceof S3LocationError || err instanceof TlsConfigError || err instanceof CertificateRequestError) {
    process.stderr.write(`berth: ${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof Error && 'code' in err && USER_FS_ERRORS.has(String(err.code))) {
    process.stderr.write(`berth: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`berth: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

dispatch(program, process.argv.slice(2)).then((code) => process.exit(code), failed);
