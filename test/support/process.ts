// Runs the service (or a CLI) as a real separate process, the way a user starts it.
//
// A script under src/ runs from the build global-setup.ts made (`node dist/main.js`, as the
// Docker image runs it): one process that starts in about half the time tsx takes, and that gets
// the signals sent to it. Other scripts (the tests' own helpers) run through tsx's loader in the
// same single process. `asNpmStart` runs package.json's own `start` command instead, as printed.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { budget } from './time.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Only what a process needs from ours: nothing else leaks into its configuration. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/** The command line that runs `script` (a path from the project's root). */
export function commandFor(script: string): [string, string[]] {
  const build = process.env.TEST_SERVICE_BUILD;
  if (build && script.startsWith('src/') && script.endsWith('.ts')) {
    return [process.execPath, [join(build, script.slice('src/'.length, -'.ts'.length) + '.js')]];
  }
  return [process.execPath, ['--import', 'tsx', script]];
}

/** package.json's `start` script, split into a command line (it is one plain command). */
function npmStartCommand(): [string, string[]] {
  const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const [program, ...args] = start.split(/\s+/);
  if (program !== 'node' || args.some((a) => /["'$&|;]/.test(a))) throw new Error(`package.json's start is no longer one plain node command: ${start}`);
  return [process.execPath, args];
}

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface SpawnOptions {
  timeoutMs?: number;
  /** Run package.json's `start` command (tsx's loader on the sources) rather than the build. */
  asNpmStart?: boolean;
}

export async function spawnService(env: Record<string, string>, options: SpawnOptions = {}): Promise<ServiceProcess> {
  const [program, args] = options.asNpmStart ? npmStartCommand() : commandFor('src/main.ts');
  const child = spawn(program, args, { cwd: ROOT, env: { ...baseEnv(), PORT: '0', ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${out}`)), budget(options.timeoutMs ?? 60_000));
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code}:\n${out}`));
    });
  });

  return {
    url,
    child,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a TypeScript entry point of the project to completion. */
export function runScript(script: string, args: string[], env: Record<string, string>): Promise<RunResult> {
  const [program, scriptArgs] = commandFor(script);
  const child = spawn(program, [...scriptArgs, ...args], { cwd: ROOT, env: { ...baseEnv(), ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/** A script started and left running: its output so far, a wait for a line of it, and a stop. */
export function startScript(script: string, env: Record<string, string>): { output(): string; waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>; stop(): Promise<number | null> } {
  const [program, args] = commandFor(script);
  const child = spawn(program, args, { cwd: ROOT, env: { ...baseEnv(), ...env } });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const seen: (() => void)[] = [];
  const collect = (d: Buffer) => {
    out += d.toString();
    for (const check of seen.splice(0)) check();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  void exited.then(() => {
    for (const check of seen.splice(0)) check();
  });
  return {
    output: () => out,
    waitFor: (pattern, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no output matching ${pattern}:\n${out}`)), budget(timeoutMs));
        const check = () => {
          if (pattern.test(out)) {
            clearTimeout(timer);
            resolve(out);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(timer);
            reject(new Error(`exited before printing ${pattern}:\n${out}`));
          } else seen.push(check);
        };
        check();
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs a command line as a person would paste it into a new terminal in the project's root. */
export function runShell(command: string, env: Record<string, string>): Promise<RunResult> {
  const child = spawn('/bin/sh', ['-c', command], { cwd: ROOT, env: { ...baseEnv(), ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/**
 * A new DATA_DIR whose embedded database is already initialised and migrated (a copy of the one
 * global-setup.ts made), for tests about what a process does with a database, not about its
 * first start: initdb on disk takes seconds. Without the template, an empty directory.
 */
export async function seededDataDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const template = process.env.TEST_PGLITE_DATA_DIR;
  if (template) cpSync(template, join(dir, 'pglite'), { recursive: true });
  return dir;
}
