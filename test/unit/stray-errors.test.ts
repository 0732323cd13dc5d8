// What the service's process does with errors nothing caught, on real Node processes with the
// service's own logger (Node's default would end it on an unhandled rejection, unlogged).
import { describe, expect, it } from 'vitest';
import { runScript } from '../support/process.js';

const SCRIPT = 'test/support/stray-error-process.ts';
const logLines = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message: string; stack: string } });

describe('stray errors in the service process', () => {
  it('an unhandled rejection is logged with its error and the process keeps running', async () => {
    const result = await runScript(SCRIPT, ['handled', 'reject'], {});
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('still running');
    const [line] = logLines(result.stdout);
    expect(line).toMatchObject({ level: 50, msg: expect.stringMatching(/unhandled promise rejection/) });
    expect(line!.err!.message).toBe('rejected with nobody listening');
    expect(line!.err!.stack).toContain('stray-error-process.ts');
  });

  it('without it, Node would have ended the process (the case above is not vacuous)', async () => {
    const result = await runScript(SCRIPT, ['unhandled', 'reject'], {});
    expect(result.code).not.toBe(0);
    expect(result.stdout).not.toContain('still running');
  });

  it('an uncaught exception is logged as fatal and the process exits with 1', async () => {
    const result = await runScript(SCRIPT, ['handled', 'throw'], {});
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain('still running');
    const [line] = logLines(result.stdout);
    expect(line).toMatchObject({ level: 60, msg: expect.stringMatching(/uncaught exception; exiting/) });
    expect(line!.err!.message).toBe('thrown from a callback');
  });
});
