// Renders a Plan as a terminal table or as GitHub markdown (check-run
// summaries). Pure functions over plain data: the GitHub layer calls
// renderPlanMarkdown directly.
import type { Plan, PlanHost } from '../rollout/types.js';
import { formatDuration, mdCell, mdTable, textTable } from './table.js';

const GITHUB_TEXT_LIMIT = 65_535;

export function tagMove(h: Pick<PlanHost, 'tag'>): string {
  const { from, to } = h.tag;
  return from === undefined || from === to ? to : `${from} → ${to}`;
}

export function planHeadline(plan: Plan): string {
  const s = plan.summary;
  const parts = [
    `${s.change} to change`,
    `${s.unchanged} unchanged`,
    s.blocked ? `${s.blocked} blocked` : '',
    s.skip ? `${s.skip} skipped` : '',
    s.drift ? `${s.drift} drifted` : '',
  ].filter(Boolean);
  return parts.join(', ');
}

function notes(h: PlanHost): string {
  const out: string[] = [];
  if (h.skipReason) out.push(h.skipReason);
  for (const f of h.findings) if (f.level !== 'info') out.push(`${f.level === 'error' ? 'ERROR' : 'warn'} ${f.source}: ${f.message}`);
  if (out.length === 0 && h.action === 'change') {
    const info = h.findings.filter((f) => f.level === 'info').map((f) => f.message);
    out.push(...info.slice(0, 2));
  }
  return out.join('; ');
}

function ringTitle(r: Plan['rings'][number]): string {
  return `Ring ${r.name}: ${r.hosts.length} host(s), concurrency ${r.concurrency}, failure budget ${r.failureBudget}, bake ${r.bakeSeconds} s`;
}

export interface PlanTextOptions {
  /** Also print each changing host's commands and file diff. */
  details?: boolean;
}

export function renderPlanText(plan: Plan, opts: PlanTextOptions = {}): string {
  const out: string[] = [];
  out.push(
    `Plan (${plan.mode}) ${plan.base ? `${plan.base} → ` : ''}${plan.head}${plan.ringFilter ? `, ring ${plan.ringFilter}` : ''}: ${planHeadline(plan)}  [${formatDuration(plan.durationMs)}]`,
  );
  if (plan.ringsChanged.length) out.push(`Ring settings changed: ${plan.ringsChanged.join(', ')}`);
  if (plan.rings.length === 0 && plan.skipped.length === 0) out.push('', 'Nothing to do.');
  for (const r of plan.rings) {
    out.push('', ringTitle(r));
    out.push(
      textTable(
        ['CUSTOMER', 'ACTION', 'TAG', 'WHY', 'TARGET', 'NOTES'],
        r.hosts.map((h) => [h.customerId, h.action, tagMove(h), h.reasons.join(','), h.target, notes(h)]),
      ),
    );
  }
  if (plan.skipped.length) {
    out.push('', 'Skipped');
    out.push(textTable(['CUSTOMER', 'RING', 'REASON'], plan.skipped.map((h) => [h.customerId, h.ring, h.skipReason ?? ''])));
  }
  if (opts.details) {
    for (const r of plan.rings)
      for (const h of r.hosts) {
        if (h.action === 'unchanged') continue;
        out.push('', `== ${h.customerId} (${h.target}) ${tagMove(h)}: ${h.message}`);
        for (const s of h.steps) {
          out.push(`  [${s.status}] ${s.step}: ${s.message}`);
          for (const c of s.commands ?? []) out.push(`      $ ${c}`);
        }
        if (h.fileDiff) out.push(...h.fileDiff.trimEnd().split('\n').map((l) => `  ${l}`));
      }
  }
  return out.join('\n') + '\n';
}

function hostDetailsMarkdown(h: PlanHost): string {
  const lines: string[] = [];
  lines.push(`<details><summary><code>${h.customerId}</code> ${mdCell(tagMove(h))}: ${mdCell(h.message)}</summary>`, '');
  if (h.findings.length) {
    for (const f of h.findings) lines.push(`- ${f.level === 'error' ? '❌' : f.level === 'warning' ? '⚠️' : '✔️'} ${f.source}: ${f.message}`);
    lines.push('');
  }
  const commands = h.steps.flatMap((s) => (s.commands ?? []).map((c) => `${s.step.padEnd(15)} ${c}`));
  if (commands.length) lines.push('Steps:', '', '```', ...commands, '```', '');
  if (h.fileDiff) lines.push('Host file changes:', '', '```diff', h.fileDiff.trimEnd(), '```', '');
  lines.push('</details>');
  return lines.join('\n');
}

export interface MarkdownOptions {
  /** Default: GitHub's check-run text limit. */
  maxChars?: number;
}

/** Markdown for a check run or PR comment; stays under maxChars by dropping per-host details first. */
export function renderPlanMarkdown(plan: Plan, opts: MarkdownOptions = {}): string {
  const max = opts.maxChars ?? GITHUB_TEXT_LIMIT;
  const head: string[] = [];
  head.push(`### Plan (${plan.mode === 'live' ? 'live: hosts observed read-only' : 'offline: no host contacted'})`, '');
  head.push(`${planHeadline(plan)}${plan.base ? ` · \`${plan.base}\` → \`${plan.head}\`` : ''}${plan.ringFilter ? ` · ring **${plan.ringFilter}**` : ''}`);
  if (plan.ringsChanged.length) head.push('', `Ring settings changed: ${plan.ringsChanged.map((r) => `\`${r}\``).join(', ')}`);
  if (plan.rings.length === 0 && plan.skipped.length === 0) head.push('', 'Nothing to do: no host changes.');
  for (const r of plan.rings) {
    head.push('', `#### ${mdCell(ringTitle(r))}`, '');
    head.push(
      mdTable(
        ['Customer', 'Change', 'Action', 'Why', 'Notes'],
        r.hosts.map((h) => [`\`${h.customerId}\``, tagMove(h), h.action, h.reasons.join(', '), notes(h)]),
      ),
    );
  }
  if (plan.skipped.length) {
    head.push('', '#### Skipped', '');
    head.push(mdTable(['Customer', 'Ring', 'Reason'], plan.skipped.map((h) => [`\`${h.customerId}\``, h.ring, h.skipReason ?? ''])));
  }
  const details = plan.rings.flatMap((r) => r.hosts.filter((h) => h.action !== 'unchanged').map(hostDetailsMarkdown));
  return fit(head.join('\n'), details, max);
}

/** Appends detail blocks while they fit, then says how many were left out. */
export function fit(main: string, details: string[], max: number): string {
  let text = main;
  if (text.length > max) {
    const cut = text.lastIndexOf('\n', max - 80);
    return text.slice(0, cut > 0 ? cut : max - 80) + '\n\n…(truncated: too long for one check run)';
  }
  let added = 0;
  if (details.length) {
    const header = '\n\n#### Details\n\n';
    if (text.length + header.length < max) text += header;
    for (const d of details) {
      const note = `\n\n…and ${details.length - added} more host(s) not shown (size limit).`;
      if (text.length + d.length + 2 + note.length > max) {
        text += note;
        return text;
      }
      text += (added ? '\n\n' : '') + d;
      added++;
    }
  }
  return text;
}
