// Renders a RolloutResult: the final summary table on the terminal and the
// markdown for a check run. Pure functions over plain data.
import type { HostResult } from '../host/types.js';
import type { RolloutResult } from '../rollout/types.js';
import { fit, type MarkdownOptions } from './plan.js';
import { formatDuration, mdCell, mdTable, textTable } from './table.js';

const OUTCOME_ICON: Record<string, string> = {
  upgraded: '✅',
  unchanged: '✔️',
  'rolled-back': '↩️',
  'rollback-failed': '🚨',
  refused: '⛔',
  unknown: '❓',
  planned: '📝',
  skipped: '⏭️',
};

function move(from: string | undefined, to: string): string {
  return from === undefined || from === to ? to : `${from} → ${to}`;
}

interface Row {
  ring: string;
  customerId: string;
  outcome: string;
  tags: string;
  duration: string;
  message: string;
}

function rows(result: RolloutResult): Row[] {
  const out: Row[] = [];
  for (const r of result.rings) {
    const hosts = [...r.hosts].sort((a, b) => a.customerId.localeCompare(b.customerId));
    for (const h of hosts)
      out.push({
        ring: r.ring,
        customerId: h.customerId,
        outcome: h.outcome,
        tags: move(h.fromTag, h.toTag),
        duration: formatDuration(h.durationMs),
        message: h.message,
      });
    for (const s of r.skipped)
      out.push({ ring: r.ring, customerId: s.customerId, outcome: 'skipped', tags: s.toTag, duration: '', message: s.reason });
  }
  return out;
}

export function resultHeadline(result: RolloutResult): string {
  const counts = new Map<string, number>();
  for (const row of rows(result)) counts.set(row.outcome, (counts.get(row.outcome) ?? 0) + 1);
  const parts = [...counts].map(([k, v]) => `${v} ${k}`);
  return `Rollout ${result.status}${result.reason ? `: ${result.reason}` : ''} (${parts.join(', ') || 'no hosts'}; ${formatDuration(result.durationMs)})`;
}

export function renderResultsText(result: RolloutResult): string {
  const lines = [resultHeadline(result), ''];
  for (const r of result.rings) lines.push(`Ring ${r.ring}: ${r.status}${r.reason ? ` (${r.reason})` : ''}`);
  lines.push('');
  lines.push(
    textTable(
      ['RING', 'CUSTOMER', 'OUTCOME', 'TAG', 'TIME', 'MESSAGE'],
      rows(result).map((r) => [r.ring, r.customerId, r.outcome, r.tags, r.duration, r.message]),
    ),
  );
  if (result.badTags.length) lines.push('', `Tags marked bad (never promoted automatically): ${result.badTags.join(', ')}`);
  return lines.join('\n') + '\n';
}

function hostDetails(h: HostResult): string {
  const lines = [`<details><summary><code>${h.customerId}</code> ${OUTCOME_ICON[h.outcome] ?? ''} ${mdCell(h.message)}</summary>`, ''];
  lines.push(
    mdTable(
      ['Step', 'Status', 'Time', 'Message'],
      h.steps.map((s) => [s.step, s.status, formatDuration(s.durationMs), s.message]),
    ),
  );
  const failed = h.steps.filter((s) => (s.status === 'failed' || s.status === 'unknown') && s.output);
  for (const s of failed) lines.push('', `Output of ${s.step}:`, '', '```', s.output!.trimEnd(), '```');
  lines.push('', '</details>');
  return lines.join('\n');
}

export function renderResultsMarkdown(result: RolloutResult, opts: MarkdownOptions = {}): string {
  const main: string[] = [`### ${mdCell(resultHeadline(result))}`, ''];
  main.push(mdTable(['Ring', 'Status', 'Reason'], result.rings.map((r) => [r.ring, r.status, r.reason ?? ''])));
  main.push('', '#### Hosts', '');
  main.push(
    mdTable(
      ['Ring', 'Customer', 'Outcome', 'Tag', 'Time', 'Message'],
      rows(result).map((r) => [r.ring, `\`${r.customerId}\``, `${OUTCOME_ICON[r.outcome] ?? ''} ${r.outcome}`, r.tags, r.duration, r.message]),
    ),
  );
  if (result.badTags.length) main.push('', `Tags marked bad (never promoted automatically): ${result.badTags.map((t) => `\`${t}\``).join(', ')}`);
  // Failed hosts first: they are what a reader opens the check run for.
  const hosts = result.rings.flatMap((r) => r.hosts);
  const ordered = [...hosts.filter((h) => h.outcome !== 'upgraded' && h.outcome !== 'unchanged'), ...hosts.filter((h) => h.outcome === 'upgraded')];
  return fit(main.join('\n'), ordered.map(hostDetails), opts.maxChars ?? 65_535);
}
