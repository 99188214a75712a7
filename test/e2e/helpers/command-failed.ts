/**
 * A client tool (docker, ctr, podman) run by a test that exited non-zero, and the way a test
 * runs one that must fail: the tool's own words are what the test reads.
 */
export class CommandFailed extends Error {
  /** `shown` is the command line as it may be printed (no password in it). */
  constructor(
    shown: string,
    readonly stderr: string,
  ) {
    super(`${shown} failed: ${stderr}`);
  }
}

/** What execFile's callback error says when the tool printed nothing. */
export const exitReason = (err: { killed?: boolean; code?: number | string | null }): string => (err.killed ? 'timed out' : `exit ${err.code}`);

/** Runs a command that must fail and returns its stderr; fails the test if it succeeds. */
export async function mustFail(shown: string, run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (e) {
    if (e instanceof CommandFailed) return e.stderr;
    throw e;
  }
  throw new Error(`${shown} succeeded; it must fail`);
}
