/**
 * Says at start which native addons are not in use and what that costs: each has a Node-only
 * fallback that works, so a missing addon is not an error, but an operator should know why
 * downloads, uploads or memory behave as they do.
 */
import type { Logger } from 'pino';
import { mallocTrimUnavailable } from '../core/malloc-trim.js';
import { nativeGcmUnavailable } from '../blobstore/encrypted/native-gcm.js';
import { fileMapUnavailable } from '../blobstore/encrypted/mapped-file.js';
import { nativeSealUnavailable } from '../blobstore/encrypted/native-seal.js';

export function logMissingAddons(log: Logger): void {
  const noNativeCipher = nativeGcmUnavailable();
  if (noNativeCipher) log.warn({ reason: noNativeCipher }, "encrypted downloads decipher with Node's crypto: the native AES-GCM opener is not in use");
  const noNativeSeal = nativeSealUnavailable();
  if (noNativeSeal) log.warn({ reason: noNativeSeal }, "encrypted uploads seal with Node's crypto: the native AES-GCM sealer is not in use");
  const noMap = fileMapUnavailable();
  if (noMap) log.info({ reason: noMap }, 'encrypted downloads pread blob files into a buffer: mapped reads are not in use');
  const noTrim = mallocTrimUnavailable();
  if (noTrim) log.warn({ reason: noTrim }, 'memory freed by a crowd of uploads stays resident after it: the malloc-trim addon is not in use');
}
