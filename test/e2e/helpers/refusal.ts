/**
 * The refusal of an SDK call that must fail, as `<error name>: <message>`: the words the AWS
 * CLI prints for the same refusal (`An error occurred (<name>) ...: <message>`), so one pattern
 * reads either client's.
 */
import assert from 'node:assert/strict';

export async function refusal(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
  return assert.fail('the call succeeded');
}
