// HostExecutor over one SSH connection. Every command is bounded twice: a
// server-side `timeout` (so nothing keeps running forever on the host) and a
// client-side timer (so a dead link cannot hang us). A dropped connection or
// a timeout gives `code: null`: the outcome is unknown and the caller must
// re-observe. Few channels at a time per connection (OpenSSH allows 10).
import pLimit from 'p-limit';
import type { ClientChannel } from 'ssh2';
import type { CommandResult, HostExecutor, RemoteCommand } from './types.js';
import type { SshConnection } from '../ssh/connect.js';
import { joinArgv, quote } from './shell.js';
import { redact } from '../util/redact.js';

export interface SshExecutorOptions {
  /** Returns the live connection, reconnecting after a drop (the driver decides and counts). */
  connection: () => Promise<SshConnection>;
  target: string;
  /** Concurrent channels on this connection. */
  channels?: number;
  /** Cap on stdout/stderr kept per command (tail kept). Parsing needs more than a report. */
  maxOutputBytes?: number;
  /** Extra seconds the client waits beyond the server-side timeout. */
  graceSeconds?: number;
}

/** Exit status of `timeout(1)` when it had to stop the command (124) or kill it (137). */
const TIMEOUT_CODES = new Set([124, 137]);

export function remoteCommandLine(cmd: RemoteCommand): string {
  // cmd.argv is joined on its own: its identity carries sh()'s "constant script" mark.
  const bound = joinArgv(['timeout', '-k', '10', String(Math.max(1, Math.ceil(cmd.timeoutSeconds)))]);
  const line = `${bound} ${joinArgv(cmd.argv)}`;
  return cmd.cwd ? `cd ${quote(cmd.cwd)} && ${line}` : line;
}

export class SshExecutor implements HostExecutor {
  readonly target: string;
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly max: number;
  private readonly grace: number;
  private lastConn: SshConnection | undefined;

  constructor(private readonly opts: SshExecutorOptions) {
    this.target = opts.target;
    this.limit = pLimit(opts.channels ?? 2);
    this.max = opts.maxOutputBytes ?? 256 * 1024;
    this.grace = opts.graceSeconds ?? 15;
  }

  exec(cmd: RemoteCommand): Promise<CommandResult> {
    // Validate (and refuse hostile argv) before taking a channel slot: throws.
    const bounded = remoteCommandLine(cmd);
    return this.limit(() => this.run(cmd, bounded));
  }

  private async run(cmd: RemoteCommand, line: string): Promise<CommandResult> {
    const started = Date.now();
    let conn: SshConnection;
    try {
      conn = await this.opts.connection();
    } catch (e) {
      return { code: null, stdout: '', stderr: redact((e as Error).message), durationMs: Date.now() - started };
    }
    // A new connection object means the previous one dropped in between: say so,
    // the procedure must not assume continuity (e.g. while migrate runs).
    const reconnected = this.lastConn !== undefined && conn !== this.lastConn;
    this.lastConn = conn;
    const out = new Tail(this.max);
    const err = new Tail(this.max);
    let channel: ClientChannel | undefined;
    let timedOut = false;
    const clientMs = (cmd.timeoutSeconds + this.grace) * 1000;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        channel?.signal('KILL');
      } catch {
        /* channel may already be gone */
      }
      channel?.close();
    }, clientMs);
    try {
      const res = await conn.ssh.execCommand(line, {
        noTrim: true,
        ...(cmd.stdin !== undefined ? { stdin: cmd.stdin } : {}),
        onChannel: (ch) => {
          channel = ch;
        },
        onStdout: (b) => out.push(b),
        onStderr: (b) => err.push(b),
      });
      const elapsed = Date.now() - started;
      let code = res.code;
      // Server-side timeout fired: the command was stopped, its effect is unknown.
      const serverTimeout = code !== null && TIMEOUT_CODES.has(code) && elapsed >= cmd.timeoutSeconds * 900;
      if (serverTimeout || timedOut) code = null;
      const dropped = res.code === null && !timedOut;
      return {
        code,
        stdout: redact(out.text()),
        stderr: redact(
          err.text() +
            (dropped ? '\n[connection lost before the command finished: outcome unknown]' : '') +
            (serverTimeout || timedOut ? `\n[timed out after ${cmd.timeoutSeconds}s: outcome unknown]` : ''),
        ),
        durationMs: elapsed,
        ...(serverTimeout || timedOut ? { timedOut: true } : {}),
        ...(reconnected ? { reconnected } : {}),
      };
    } catch (e) {
      // Channel could not be opened (connection gone): unknown, not failed.
      return {
        code: null,
        stdout: redact(out.text()),
        stderr: redact(`${err.text()}\n[${(e as Error).message}: outcome unknown]`),
        durationMs: Date.now() - started,
      };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    /* the driver owns the connection */
  }
}

/** Keeps the last `max` bytes of a stream. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;
  constructor(private readonly max: number) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size > this.max && this.chunks.length > 1) {
      const first = this.chunks.shift()!;
      this.size -= first.length;
      this.dropped += first.length;
    }
  }
  text(): string {
    let buf = Buffer.concat(this.chunks);
    if (buf.length > this.max) {
      this.dropped += buf.length - this.max;
      buf = buf.subarray(buf.length - this.max);
    }
    const s = buf.toString('utf8');
    return this.dropped ? `[… ${this.dropped} bytes trimmed …]\n${s}` : s;
  }
}
