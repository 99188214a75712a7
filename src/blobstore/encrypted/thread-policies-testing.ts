/**
 * What the send pipe's tests (send-pipe, open-send, test/e2e/thread-sends) read of its threads:
 * the scheduling policy of each thread of a process with a given name, from /proc.
 */
import { readdir, readFile } from 'node:fs/promises';

/** Policies (stat's 41st field: 0 SCHED_OTHER, 3 SCHED_BATCH) of `pid`'s threads named `name`, sorted. */
export async function threadPolicies(pid: number | 'self', name: string): Promise<number[]> {
  const out: number[] = [];
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const comm = await readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8').catch(() => '');
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
    // Fields from the 3rd on follow the name's closing parenthesis; a thread gone in between has no stat.
    if (comm.trim() === name && stat) out.push(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[41 - 3]));
  }
  return out.sort();
}

/**
 * threadPolicies once it reads `want`, or its last read after `tries` reads 10 ms apart: a pipe's
 * thread names itself and then sets its policy after pipe() has returned, so a test that starts one
 * waits for both to be done (a busy machine may run the thread late).
 */
export async function policiesOnce(pid: number | 'self', name: string, want: number[], tries = 3000): Promise<number[]> {
  let seen = await threadPolicies(pid, name);
  for (let i = 1; i < tries && seen.join() !== want.join(); i++) {
    await new Promise((r) => setTimeout(r, 10));
    seen = await threadPolicies(pid, name);
  }
  return seen;
}
