/**
 * Says at start which native addons are not in use and what that costs: each has a Node-only
 * fallback that works, so a missing addon is not an error, but an operator should know why
 * downloads, uploads or memory behave as they do.
 */
import type { Logger } from 'pino';
import { mallocTrimUnavailable } from '../core/malloc-trim.js';
import { nativeGcm, nativeGcmUnavailable } from '../blobstore/encrypted/native-gcm.js';
import { fileMapUnavailable } from '../blobstore/encrypted/mapped-file.js';
import { nativeSeal, nativeSealUnavailable } from '../blobstore/encrypted/native-seal.js';
import { sendPipeUnavailable } from '../blobstore/encrypted/send-pipe-addon.js';
import { sockSendUnavailable } from '../blobstore/encrypted/sock-send.js';

/** Which of the switchable download paths the configuration asks for (a path switched off is not missing). */
export interface WantedSends {
  threadSends: boolean;
  sendPipe: boolean;
  /** Downloads read blob files through mappings (config downloadReads). */
  mappedReads: boolean;
}

/** Why each addon cannot be used, undefined where it can. */
export interface AddonReasons {
  gcm?: string;
  seal?: string;
  map?: string;
  trim?: string;
  sockSend?: string;
  sendPipe?: string;
}

export interface AddonNote {
  level: 'warn' | 'info';
  reason: string;
  msg: string;
}

export function logMissingAddons(log: Logger, want: WantedSends): void {
  const why: AddonReasons = {
    gcm: nativeGcmUnavailable(),
    seal: nativeSealUnavailable(),
    map: want.mappedReads ? fileMapUnavailable() : undefined,
    trim: mallocTrimUnavailable(),
    sockSend: want.threadSends ? sockSendUnavailable() : undefined,
    sendPipe: want.threadSends && want.sendPipe ? sendPipeUnavailable() : undefined,
  };
  for (const n of missingAddonNotes(want, why)) log[n.level]({ reason: n.reason }, n.msg);
}

/** Says at start which AES-GCM the opener and the sealer run (config gcmAvx2: `avx2Wanted`). */
export function logGcmInUse(log: Logger, avx2Wanted: boolean): void {
  const open = gcmInUse(avx2Wanted, nativeGcm());
  const seal = gcmInUse(avx2Wanted, nativeSeal());
  log.info({ open, seal }, 'encrypted blobs: which AES-GCM opens downloads and seals uploads');
}

/**
 * Which AES-GCM a cipher addon (the opener or the sealer) runs, said at start (the GHASH was most
 * of a download's CPU): its own AVX2 one (VAES CTR + VPCLMULQDQ GHASH), OpenSSL's, or none (Node's crypto).
 */
export function gcmInUse(avx2Wanted: boolean, gcm: { avx2: boolean } | undefined): string {
  if (!gcm) return "Node's crypto (the addon is not in use)";
  if (gcm.avx2 && avx2Wanted) return 'native, AVX2: VAES AES-CTR + VPCLMULQDQ GHASH (gcm-avx2.h)';
  return `native, OpenSSL's GCM (${avx2Wanted ? "this CPU lacks AVX2, VAES or VPCLMULQDQ, or has AVX-512 for OpenSSL's own" : 'gcmAvx2 off'})`;
}

/** What to tell the operator about the addons that cannot be used, given why each cannot. */
export function missingAddonNotes(want: WantedSends, why: AddonReasons): AddonNote[] {
  const notes: AddonNote[] = [];
  const note = (level: AddonNote['level'], reason: string | undefined, msg: string) => reason && notes.push({ level, reason, msg });
  note('warn', why.gcm, "encrypted downloads decipher with Node's crypto: the native AES-GCM opener is not in use");
  note('warn', why.seal, "encrypted uploads seal with Node's crypto: the native AES-GCM sealer is not in use");
  note('info', why.map, 'encrypted downloads pread blob files into a buffer: mapped reads (downloadReads mapped) are not in use');
  note('warn', why.trim, 'memory freed by a crowd of uploads stays resident after it: the malloc-trim addon is not in use');
  if (!want.threadSends) return notes;
  note('warn', why.sockSend, 'encrypted downloads are written by the event loop: byte threads cannot send (the sock-send addon is not in use)');
  // Without sock-send no byte thread sends at all, so the pipe's absence changes nothing more.
  if (want.sendPipe && !why.sockSend)
    note('warn', why.sendPipe, "a byte thread writes each download's pieces itself: the send pipe (send-pipe addon) is not in use");
  return notes;
}
