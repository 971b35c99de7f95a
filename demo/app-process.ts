// The app as it runs in production: `probot run ./dist/github/app.js` in its
// own process, configured by environment variables only.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const ROOT = new URL('../', import.meta.url).pathname;

export interface AppProcessOptions {
  env: Record<string, string>;
  /** The app runs here (no .env of the checkout is picked up by accident). */
  cwd: string;
  logFile: string;
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

export class AppProcess {
  readonly child: ChildProcess;
  private readonly lines: string[] = [];
  private readonly log: WriteStream;
  private partial = '';

  constructor(opts: AppProcessOptions) {
    this.log = createWriteStream(opts.logFile);
    this.child = spawn(join(ROOT, 'node_modules/.bin/probot'), ['run', join(ROOT, 'dist/github/app.js')], {
      cwd: opts.cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const take = (d: Buffer) => {
      this.log.write(d);
      const text = this.partial + d.toString('utf8');
      const parts = text.split('\n');
      this.partial = parts.pop() ?? '';
      for (const l of parts) {
        this.lines.push(l);
        if (this.lines.length > 400) this.lines.shift();
      }
    };
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  tail(n = 40): string[] {
    return [...this.lines, ...(this.partial ? [this.partial] : [])].slice(-n);
  }

  /** Lines of the log (so far) that match. */
  grep(re: RegExp): string[] {
    return this.lines.filter((l) => re.test(l));
  }

  async waitListening(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.lines.some((l) => /listening on/i.test(l))) {
      if (this.exited) throw new Error(`probot exited (${this.child.exitCode ?? this.child.signalCode}) before listening`);
      if (Date.now() > end) throw new Error(`probot did not start listening within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      const gone = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    }
    await new Promise((r) => this.log.end(r));
  }
}
