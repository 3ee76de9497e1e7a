import { spawn } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { displayPath } from './config.ts';
import { abortedError, StackError } from './errors.ts';
import { waitUntil } from './wait.ts';

export interface DetachedSpec {
  command: string;
  args: string[];
  /** Receives both stdout and stderr, appended so earlier runs stay readable. */
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts a service that must outlive this Node process (tests and CLI runs come and go while
 * the stack keeps running): its own session, output straight to a file, no handle kept.
 */
export function spawnDetached(spec: DetachedSpec): number {
  mkdirSync(dirname(spec.logFile), { recursive: true });
  appendFileSync(spec.logFile, `\n=== ${new Date().toISOString()} ${spec.command} ${spec.args.join(' ')}\n`);
  const fd = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    // A failed exec is reported asynchronously; without a listener it would crash the caller.
    child.on('error', () => {});
    if (child.pid === undefined) {
      throw new StackError('STACK_COMMAND_FAILED', `could not start ${spec.command} (is it installed?)`);
    }
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export function readPidFile(pidFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function writeFileAtomic(file: string, content: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

export function removeFile(file: string): void {
  rmSync(file, { force: true });
}

interface ProcStat {
  state: string;
  processGroup: number;
}

function readProcStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may itself contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], processGroup: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/** Argument vector of a live process; undefined once it has exited (zombies count as exited). */
export function processCommandLine(pid: number): string[] | undefined {
  const stat = readProcStat(pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/**
 * Pids get reused, so a pid file alone proves nothing: the process must still run the
 * expected program with our own config file before we report it as ours or signal it.
 */
export function isOurProcess(pid: number | undefined, markers: readonly string[]): pid is number {
  if (pid === undefined) return false;
  const commandLine = processCommandLine(pid)?.join(' ');
  return commandLine !== undefined && markers.every((marker) => commandLine.includes(marker));
}

function signalProcessTree(pid: number, signal: NodeJS.Signals): void {
  // We start services as session leaders, so their group also holds any helpers they forked.
  const target = readProcStat(pid)?.processGroup === pid ? -pid : pid;
  try {
    process.kill(target, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export type StopOutcome = 'stopped' | 'not-running' | 'not-ours';

export async function stopProcess(
  pid: number,
  markers: readonly string[],
  options: { what: string; graceMs?: number; signal?: AbortSignal },
): Promise<StopOutcome> {
  if (!processCommandLine(pid)) return 'not-running';
  if (!isOurProcess(pid, markers)) return 'not-ours';
  const what = `stopping ${options.what}`;
  /** Whether the process ended within `timeoutMs`: false is a verdict here, not a failure. */
  const goneWithin = (timeoutMs: number) =>
    waitUntil(() => !isOurProcess(pid, markers), {
      what,
      timeoutMs,
      intervalMs: 100,
      signal: options.signal,
      onTimeout: () => new StackError('STACK_STOP_FAILED', `${what}: still running after ${timeoutMs} ms`),
    }).then(
      () => true,
      (error: unknown) => {
        if ((error as StackError).code === 'STACK_STOP_FAILED') return false;
        throw error;
      },
    );
  signalProcessTree(pid, 'SIGTERM');
  if (await goneWithin(options.graceMs ?? 15_000)) return 'stopped';
  signalProcessTree(pid, 'SIGKILL');
  if (await goneWithin(5_000)) return 'stopped';
  throw new StackError('STACK_STOP_FAILED', `${options.what} (pid ${pid}) survived SIGKILL`);
}

export interface RunOptions {
  /** Names the step in errors, e.g. "maven download of the Kafka jars". */
  what: string;
  logFile?: string;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs a short-lived tool to completion; output goes to `logFile` when given, its tail into the error. */
export function runCommand(command: string, args: string[], options: RunOptions): Promise<string> {
  if (options.logFile) {
    mkdirSync(dirname(options.logFile), { recursive: true });
    appendFileSync(options.logFile, `\n=== ${new Date().toISOString()} ${command} ${args.join(' ')}\n`);
  }
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      signal: options.signal,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      if (options.logFile) appendFileSync(options.logFile, chunk);
      output = (output + chunk.toString()).slice(-64 * 1024);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (options.signal?.aborted) reject(abortedError(options.signal, options.what));
      else if (error.code === 'ENOENT') {
        reject(new StackError('STACK_COMMAND_FAILED', `${options.what} failed: ${command} is not installed`));
      } else reject(new StackError('STACK_COMMAND_FAILED', `${options.what} failed: ${error.message}`));
    });
    child.once('close', (code, signalName) => {
      if (code === 0) return resolve(output);
      if (options.signal?.aborted) return reject(abortedError(options.signal, options.what));
      const where = options.logFile ? `; see ${displayPath(options.logFile)}` : '';
      const detail = pickMeaningfulLine(output);
      reject(
        new StackError(
          'STACK_COMMAND_FAILED',
          `${options.what} failed (${code === null ? signalName : `exit ${code}`})${detail ? `: ${detail}` : ''}${where}`,
          { logFile: options.logFile },
        ),
      );
    });
  });
}

const FAILURE_HINT = /\b(error|exception|fatal|panic|failed|cannot|could not)\b/i;
// A JVM exception line such as "java.lang.RuntimeException: Stored node id 2 doesn't match ...";
// the last one printed is the root cause.
const JVM_CAUSE = /^(?:Caused by: )?[\w.$]+(?:Exception|Error):/;

function pickMeaningfulLine(text: string): string | undefined {
  // Only the latest run counts; spawnDetached and runCommand start each one with a "=== " header.
  const latestRun = text.slice(text.lastIndexOf('\n=== ') + 1);
  const lines = latestRun
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('=== ') && !line.startsWith('at '));
  const line =
    lines.findLast((candidate) => JVM_CAUSE.test(candidate)) ??
    lines.findLast((candidate) => FAILURE_HINT.test(candidate)) ??
    lines.at(-1);
  return line && line.length > 240 ? `${line.slice(0, 237)}...` : line;
}

/** The most telling recent line of a service log, to put the cause into a one-line error. */
export function lastMeaningfulLogLine(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, 32 * 1024);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return pickMeaningfulLine(buffer.toString('utf8'));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
