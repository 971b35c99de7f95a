// Local process helpers for the testbed (root on this machine).
import { execFile, spawn } from 'node:child_process';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
}

/** Runs a program; never throws for a non-zero exit (code -1 = could not run or killed by timeout). */
export function exec(file: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { cwd: opts.cwd, env: opts.env ?? cleanEnv(), maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 300_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === -1 ? `\n${err.message}` : '') });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Runs a program and throws with its output when it fails. */
export async function run(file: string, args: string[], opts: ExecOptions = {}): Promise<string> {
  const r = await exec(file, args, opts);
  if (r.code !== 0) {
    throw new Error(`${[file, ...args].join(' ')} exited ${r.code}${opts.cwd ? ` (in ${opts.cwd})` : ''}\n${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

/** Runs a program detached from this process (it survives us), returns once it has been spawned. */
export function spawnDetached(file: string, args: string[]): void {
  const child = spawn(file, args, { detached: true, stdio: 'ignore', env: cleanEnv() });
  child.unref();
}

/**
 * Environment for docker/compose/sshd: nothing from the caller's shell that
 * could change what Compose resolves (COMPOSE_*, DOCKER_HOST, CUSTOM_TAG...).
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: process.env.HOME ?? '/root',
    LANG: 'C.UTF-8',
    ...extra,
  };
}
