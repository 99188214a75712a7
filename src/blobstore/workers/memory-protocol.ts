/**
 * The messages between the main thread's QuietMemory (quiet-memory.ts) and the memory task of the
 * byte threads (memory-task.ts).
 */

/**
 * The claim word of a release (an Int32Array of one element over shared memory): the thread and
 * the main thread race for it with compareExchange, so that memory given back unreleased (the
 * thread late past the bound, quiet-memory.ts) is never zeroed after it was lent again.
 */
export const CLAIM = { pending: 0, running: 1, done: 2, cancelled: 3 } as const;

export type ToMemory =
  /** `collect`: a collection, then the trim; `trim`: the trim alone (while a crowd's uploads end). */
  | { kind: 'memory'; op: 'collect' | 'trim' }
  /** The whole pages inside `views` (shared memory nobody needs the contents of) go back, if `claim` is still pending. */
  | { kind: 'memory'; op: 'release'; id: number; views: Uint8Array[]; claim: Int32Array };

export type FromMemory =
  /** Done: `trimmed` says whether malloc gave any memory back (false without the addon). */
  | { kind: 'memory'; op: 'collected' | 'trimmed'; trimmed: boolean }
  /** `bytes` were handed back; -1: not touched, the main thread had taken the release back. */
  | { kind: 'memory'; op: 'released'; id: number; bytes: number };
