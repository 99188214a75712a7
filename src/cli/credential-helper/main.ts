#!/usr/bin/env node
/**
 * docker-credential-berth: registry logins for Berth from AWS credentials, so docker
 * (`credHelpers`), podman and skopeo (`credential-helpers`) and the kubelet (an image credential
 * provider) pull and push with no `docker login`. `get` reads a server URL on stdin and answers
 * `{"ServerURL","Username","Secret"}`; `store`, `erase` and `list` keep nothing (the token is
 * minted on demand); `kubelet` answers a CredentialProviderRequest. Errors go to stderr with exit
 * status 1, and never carry a token or a secret key.
 */
import { text } from 'node:stream/consumers';
import { dockerAnswer, hostOfImage, hostOfServerUrl, HelperError, kubeletAnswer, parseKubeletRequest } from './protocol.js';
import { cacheFile, REFRESH_BEFORE_EXPIRY_MS } from './token-cache.js';
import { loginFor } from './token-source.js';

const MAX_STDIN = 64 * 1024;
const USAGE = 'usage: docker-credential-berth get|store|erase|list|kubelet (input on stdin)';

async function stdin(): Promise<string> {
  const body = await text(process.stdin);
  if (body.length > MAX_STDIN) throw new HelperError('stdin is too long');
  return body;
}

async function main(command: string | undefined): Promise<string | undefined> {
  const source = { cacheFile: cacheFile(process.env), now: () => new Date() };
  switch (command) {
    case 'get': {
      const serverUrl = await stdin();
      const login = await loginFor(hostOfServerUrl(serverUrl), source);
      return dockerAnswer(serverUrl, login);
    }
    case 'list':
      return '{}';
    case 'store':
    case 'erase':
      // Docker sends what it would have stored; there is nothing to keep or forget.
      await stdin();
      return undefined;
    case 'kubelet': {
      const request = parseKubeletRequest(await stdin());
      const host = hostOfImage(request.image);
      const login = await loginFor(host, source);
      return kubeletAnswer(request, host, login, source.now(), REFRESH_BEFORE_EXPIRY_MS);
    }
    default:
      throw new HelperError(USAGE);
  }
}

main(process.argv[2]).then(
  (out) => {
    if (out !== undefined) process.stdout.write(`${out}\n`);
  },
  (err: unknown) => {
    const message = err instanceof HelperError ? err.message : `unexpected error: ${(err as Error)?.name ?? 'Error'}: ${(err as Error)?.message ?? ''}`;
    process.stderr.write(`docker-credential-berth: ${message}\n`);
    process.exitCode = 1;
  },
);
