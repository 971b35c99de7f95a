// The dry-run executor. Read-only commands run for real when there is an
// underlying executor (live plan); mutating ones are only recorded and come
// back `simulated` with code 0. Offline there is no host: everything is
// simulated and the procedure must not parse any output (it says "would ...").
import type { CommandResult, HostExecutor, RemoteCommand } from './types.js';
import { joinArgv } from './shell.js';

export class RecordingExecutor implements HostExecutor {
  readonly target: string;
  readonly recorded: RemoteCommand[] = [];

  constructor(
    private readonly inner?: HostExecutor,
    target?: string,
  ) {
    this.target = inner?.target ?? target ?? 'offline';
  }

  async exec(cmd: RemoteCommand): Promise<CommandResult> {
    joinArgv(cmd.argv); // the plan must refuse exactly what apply would refuse
    if (!cmd.mutates && this.inner) return this.inner.exec(cmd);
    this.recorded.push(cmd);
    return { code: 0, stdout: '', stderr: '', durationMs: 0, simulated: true };
  }

  async close(): Promise<void> {
    await this.inner?.close();
  }
}
