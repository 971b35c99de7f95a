// Live progress of a rollout on the terminal, rendered from RolloutEvents
// only. On a TTY, hosts in flight stay in a block at the bottom showing their
// current step while finished hosts scroll above it; elsewhere (CI logs,
// pipes) every event is one plain line.
import type { Writable } from 'node:stream';
import type { EventSink, RolloutEvent } from '../rollout/events.js';
import { formatDuration } from './table.js';

export interface ProgressView {
  sink: EventSink;
  /** Clears the live block (call before printing the summary). */
  close(): void;
}

export interface ProgressOptions {
  tty?: boolean;
  /** Print every step line even on a TTY. */
  verbose?: boolean;
}

const time = (iso: string) => iso.slice(11, 19);

/** One plain line for an event, or undefined for events not worth a line. */
export function eventLine(e: RolloutEvent): string | undefined {
  const t = time(e.at);
  switch (e.type) {
    case 'rollout-started':
      return `${t} rollout ${e.runId}${e.commit ? ` of ${e.commit.slice(0, 12)}` : ''}: ${e.hosts} host(s) in ${e.rings.join(' → ') || 'no rings'}`;
    case 'ring-started':
      return `${t} [${e.ring}] ring started: ${e.hosts.length} host(s)`;
    case 'host-started':
      return `${t} [${e.ring}] ${e.customerId}: started${e.fromTag ? ` ${e.fromTag} →` : ' →'} ${e.toTag}`;
    case 'step-finished':
      return `${t} [${e.ring}] ${e.customerId}: ${e.step.step} ${e.step.status} (${formatDuration(e.step.durationMs)}) ${e.step.message}`;
    case 'host-finished':
      return `${t} [${e.ring}] ${e.result.customerId}: ${e.result.outcome.toUpperCase()} in ${formatDuration(e.result.durationMs)}: ${e.result.message}`;
    case 'host-skipped':
      return `${t} [${e.ring}] ${e.customerId}: skipped: ${e.reason}`;
    case 'budget-exceeded':
      return `${t} [${e.ring}] FAILURE BUDGET EXCEEDED: ${e.failures} failed, budget ${e.budget}; no new host starts`;
    case 'ring-finished':
      return `${t} [${e.ring}] ring ${e.status}${e.reason ? `: ${e.reason}` : ''}`;
    case 'bake-started':
      return `${t} [${e.ring}] baking until ${e.until}`;
    case 'bake-finished':
      return `${t} [${e.ring}] bake ${e.healthy ? 'passed' : `failed: ${e.reason ?? ''}`}`;
    case 'tag-marked-bad':
      return `${t} tag ${e.tag} marked bad: ${e.reason}`;
    case 'rollout-finished':
      return `${t} rollout ${e.status}${e.reason ? `: ${e.reason}` : ''}`;
  }
}

export function createProgressView(out: Writable, opts: ProgressOptions = {}): ProgressView {
  if (!opts.tty) {
    return {
      sink: (e) => {
        const line = eventLine(e);
        if (line) out.write(line + '\n');
      },
      close: () => {},
    };
  }

  const inFlight = new Map<string, { ring: string; step: string; since: number }>();
  let blockLines = 0;
  let done = 0;
  let total = 0;

  const redraw = (log: string[]) => {
    let s = blockLines ? `\x1b[${blockLines}A\x1b[0J` : '';
    for (const l of log) s += l + '\n';
    const block = [...inFlight].map(
      ([id, h]) => `  ⏳ [${h.ring}] ${id}: ${h.step} (${formatDuration(Date.now() - h.since)})`,
    );
    if (total) block.unshift(`  ${done}/${total} hosts done, ${inFlight.size} in flight`);
    for (const l of block) s += l + '\n';
    blockLines = block.length;
    out.write(s);
  };

  return {
    sink: (e) => {
      const log: string[] = [];
      switch (e.type) {
        case 'rollout-started':
          total = e.hosts;
          break;
        case 'host-started':
          inFlight.set(e.customerId, { ring: e.ring, step: 'starting', since: Date.now() });
          break;
        case 'step-finished': {
          const h = inFlight.get(e.customerId);
          if (h) h.step = `${e.step.step} ${e.step.status}`;
          if (!opts.verbose && e.step.status !== 'failed' && e.step.status !== 'unknown') break;
          log.push(eventLine(e)!);
          break;
        }
        case 'host-finished':
          inFlight.delete(e.result.customerId);
          done++;
          break;
        case 'host-skipped':
          done++;
          break;
      }
      if (e.type !== 'step-finished' && e.type !== 'host-started') {
        const line = eventLine(e);
        if (line) log.push(line);
      }
      redraw(log);
    },
    close: () => {
      if (blockLines) out.write(`\x1b[${blockLines}A\x1b[0J`);
      blockLines = 0;
    },
  };
}
