// Check-run texts rendered from plain data (Plan, RolloutResult, RolloutEvents).
// Summary first (what a reviewer needs in one glance), details in `text`.
// Length limits are applied later by check-run.ts (fitOutput).
import type { FleetError } from '../fleet/types.js';
import type { HostResult, StepResult } from '../host/types.js';
import type { RolloutEvent } from '../rollout/events.js';
import type { Plan, PlanHost, RolloutResult } from '../rollout/types.js';
import { isFailure } from '../rollout/types.js';
import type { CheckOutput } from './check-run.js';
import { cell, code, duration, fence, shortSha } from './markdown.js';

const STATUS_ICON: Record<string, string> = { ok: '✅', failed: '❌', warning: '⚠️', skipped: '⏭️', unknown: '❓', planned: '📝' };
const OUTCOME_LABEL: Record<string, string> = {
  upgraded: '✅ upgraded',
  unchanged: '✅ unchanged',
  'rolled-back': '↩️ rolled back',
  'rollback-failed': '🚨 rollback failed',
  refused: '⛔ refused',
  unknown: '❓ unknown',
  planned: '📝 planned',
};

function tagMove(from: string | undefined, to: string): string {
  // `from` is unknown until the host has been observed (live progress): no arrow source then.
  return from === undefined ? `→ ${code(to)}` : from === to ? code(to) : `${code(from)} → ${code(to)}`;
}

// ------------------------------------------------------------------ errors

export function renderInvalid(errors: FleetError[], warnings: FleetError[], where: string): CheckOutput {
  const lines = [
    `### ❌ The fleet files at ${where} are invalid: ${errors.length} error${errors.length === 1 ? '' : 's'}${warnings.length ? `, ${warnings.length} warning(s)` : ''}`,
    '',
    'Nothing is planned until they are fixed. Each problem is also annotated on its line in **Files changed**.',
    '',
    '| File | Line | Field | Problem |',
    '| --- | ---: | --- | --- |',
    ...[...errors, ...warnings].map((e) => `| ${cell(e.file)} | ${e.line} | ${cell(e.path || '—')} | ${e.severity === 'warning' ? '⚠️ ' : ''}${cell(e.message)} |`),
  ];
  return { title: `Invalid fleet files: ${errors.length} error${errors.length === 1 ? '' : 's'}`, summary: lines.join('\n') };
}

// -------------------------------------------------------------------- plan

export interface PlanNotes {
  /** Lines shown under the headline (offline reasons, branch behind base, ...). */
  notes: string[];
}

function actionLabel(h: PlanHost): string {
  switch (h.action) {
    case 'change':
      return '🔄 change';
    case 'unchanged':
      return '✅ unchanged';
    case 'blocked':
      return '⛔ blocked';
    default:
      return `⏭️ skip${h.skipReason ? `: ${h.skipReason}` : ''}`;
  }
}

export function planConclusion(plan: Plan): 'success' | 'neutral' | 'failure' {
  if (plan.summary.blocked > 0 || plan.summary.errors > 0) return 'failure';
  return plan.summary.change > 0 ? 'success' : 'neutral';
}

export function renderPlan(plan: Plan, extra: PlanNotes): CheckOutput {
  const s = plan.summary;
  const title =
    s.change === 0 && s.blocked === 0
      ? 'Nothing to deploy'
      : `${s.change} host${s.change === 1 ? '' : 's'} to change${s.blocked ? `, ${s.blocked} blocked` : ''}`;
  const hosts = plan.rings.flatMap((r) => r.hosts);
  const summary: string[] = [
    `### ${plan.mode === 'live' ? 'Live plan (read-only SSH)' : 'Offline plan (no host contacted)'}: ${title}`,
    '',
    `Compared ${plan.base ?? 'hosts'} → ${plan.head}. ${s.change} change, ${s.unchanged} unchanged, ${s.blocked} blocked, ${s.skip} skipped${s.drift ? `, ${s.drift} drifted` : ''}.`,
  ];
  for (const n of extra.notes) summary.push('', `> ${n}`);
  if (plan.rings.length) {
    summary.push('', '| Ring | Customer | Target | Tag | Action | Preflight |', '| --- | --- | --- | --- | --- | --- |');
    for (const r of plan.rings) {
      for (const h of r.hosts) {
        const worst = h.findings.filter((f) => f.level !== 'info').map((f) => `${f.level === 'error' ? '❌' : '⚠️'} ${f.message}`);
        const observed = h.observedTag && h.observedTag !== h.tag.from ? ` (host runs ${code(h.observedTag)})` : '';
        summary.push(`| ${cell(r.name)} | ${cell(h.customerId)} | ${cell(h.target)} | ${tagMove(h.tag.from, h.tag.to)}${observed} | ${cell(actionLabel(h))} | ${cell(worst.join('; ') || (plan.mode === 'live' && h.observation?.reachable ? 'ok' : '—'))} |`);
      }
    }
  }
  if (plan.skipped.length) {
    summary.push('', `Skipped: ${plan.skipped.map((h) => `${h.customerId} (${h.skipReason ?? h.message})`).join(', ')}`);
  }

  const text: string[] = ['## Details per host', ''];
  for (const r of plan.rings) {
    text.push(`### Ring ${r.name} (order ${r.order}, ${r.concurrency} at a time, failure budget ${r.failureBudget}, bake ${duration(r.bakeSeconds * 1000)}${r.next ? `, then ${r.next}` : ''})`, '');
    for (const h of r.hosts) text.push(...renderPlanHost(h), '');
  }
  if (!hosts.length) text.push('No host is affected by this change.');
  return { title, summary: summary.join('\n'), text: text.join('\n') };
}

function renderPlanHost(h: PlanHost): string[] {
  const out = [`#### ${h.customerId} — ${actionLabel(h)}`, '', `${h.message}`, ''];
  out.push(`- File: ${code(h.file)}; target ${code(h.target)}; tag ${tagMove(h.tag.from, h.tag.to)}`);
  if (h.reasons.length) out.push(`- Why: ${h.reasons.join(', ')}`);
  if (h.fields.length) out.push(`- Changed fields: ${h.fields.map(code).join(', ')}`);
  if (h.drift) out.push(`- ⚠️ Drift: the host runs ${code(h.observedTag ?? '?')}, the base files say ${code(h.tag.from ?? '?')}`);
  for (const f of h.findings) out.push(`- ${f.level === 'error' ? '❌' : f.level === 'warning' ? '⚠️' : 'ℹ️'} ${f.source}: ${f.message}`);
  if (h.steps.length) {
    out.push('', '| Step | Status | What |', '| --- | --- | --- |');
    for (const st of h.steps) out.push(`| ${st.step} | ${STATUS_ICON[st.status] ?? ''} ${st.status} | ${cell(st.message)} |`);
    const cmds = h.steps.flatMap((st) => (st.commands ?? []).map((c) => `${st.step}: ${c}`));
    if (cmds.length) out.push('', '<details><summary>Commands</summary>', '', fence(cmds.join('\n'), 'sh'), '', '</details>');
  }
  if (h.fileDiff) out.push('', fence(h.fileDiff, 'diff'));
  return out;
}

// ---------------------------------------------------------------- progress

interface HostProgress {
  ring: string;
  customerId: string;
  state: 'waiting' | 'running' | 'done' | 'skipped';
  fromTag?: string;
  toTag?: string;
  step?: StepResult;
  outcome?: string;
  note?: string;
}

/** Live view of a rollout built from its events only. */
export class ProgressView {
  private readonly hosts = new Map<string, HostProgress>();
  private readonly rings: string[] = [];
  private readonly ringNotes = new Map<string, string>();
  private headline = 'Starting';

  constructor(private readonly commit: string) {}

  apply(e: RolloutEvent): void {
    switch (e.type) {
      case 'rollout-started':
        this.headline = `Rolling out ${e.hosts} host(s) over ${e.rings.join(' → ') || 'no ring'}`;
        break;
      case 'ring-started':
        this.rings.push(e.ring);
        for (const id of e.hosts) this.hosts.set(id, { ring: e.ring, customerId: id, state: 'waiting' });
        this.ringNotes.set(e.ring, 'running');
        break;
      case 'host-started':
        this.upd(e.customerId, { state: 'running', fromTag: e.fromTag, toTag: e.toTag });
        break;
      case 'step-finished':
        this.upd(e.customerId, { step: e.step });
        break;
      case 'host-finished':
        this.upd(e.result.customerId, { state: 'done', outcome: e.result.outcome, fromTag: e.result.fromTag, toTag: e.result.toTag });
        break;
      case 'host-skipped':
        this.upd(e.customerId, { state: 'skipped', note: e.reason });
        break;
      case 'budget-exceeded':
        this.ringNotes.set(e.ring, `failure budget exceeded (${e.failures} > ${e.budget}): no new host starts`);
        break;
      case 'bake-started':
        this.ringNotes.set(e.ring, `baking until ${e.until}`);
        break;
      case 'bake-finished':
        this.ringNotes.set(e.ring, e.healthy ? 'baked: healthy' : `bake failed: ${e.reason ?? 'unhealthy'}`);
        break;
      case 'ring-finished':
        this.ringNotes.set(e.ring, `${e.status}${e.reason ? `: ${e.reason}` : ''}`);
        break;
      case 'tag-marked-bad':
        this.headline += ` · tag ${e.tag} marked bad`;
        break;
      default:
        break;
    }
  }

  private upd(id: string, patch: Partial<HostProgress>) {
    const h = this.hosts.get(id);
    if (h) Object.assign(h, Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)));
  }

  render(): CheckOutput {
    const all = [...this.hosts.values()];
    const done = all.filter((h) => h.state === 'done' || h.state === 'skipped').length;
    const lines = [`### ${this.headline}`, '', `Commit ${code(shortSha(this.commit))}: ${done} of ${all.length} host(s) finished.`, ''];
    for (const r of this.rings) lines.push(`- Ring **${r}**: ${this.ringNotes.get(r) ?? ''}`);
    lines.push('', '| Ring | Customer | Tag | State | Last step |', '| --- | --- | --- | --- | --- |');
    for (const h of all) {
      const state = h.state === 'done' ? (OUTCOME_LABEL[h.outcome ?? ''] ?? h.outcome ?? '') : h.state === 'running' ? '⏳ running' : h.state === 'skipped' ? `⏭️ ${h.note ?? 'skipped'}` : '🕒 waiting';
      const step = h.step ? `${STATUS_ICON[h.step.status] ?? ''} ${h.step.step}: ${h.step.message}` : '';
      lines.push(`| ${cell(h.ring)} | ${cell(h.customerId)} | ${h.toTag ? tagMove(h.fromTag, h.toTag) : ''} | ${cell(state)} | ${cell(step)} |`);
    }
    return { title: `Applying: ${done}/${all.length} hosts finished`, summary: lines.join('\n') };
  }
}

// ----------------------------------------------------------------- results

/** Hidden marker with the failed customers, read back when "Retry failed" is clicked. */
export const FAILED_MARKER = /<!-- fleetkeeper:failed=([A-Za-z0-9_.,-]*) -->/;

export function failedHosts(result: RolloutResult): HostResult[] {
  return result.rings.flatMap((r) => r.hosts.filter((h) => isFailure(h.outcome)));
}

function rollbackCell(h: HostResult): string {
  const rb = h.steps.filter((s) => s.step === 'rollback' || s.step === 'restore');
  if (!rb.length) return h.outcome === 'rolled-back' || h.outcome === 'rollback-failed' ? h.outcome : '—';
  return rb.map((s) => `${s.step} ${STATUS_ICON[s.status] ?? ''}${s.status !== 'ok' ? ` ${s.message}` : ''}`).join('; ');
}

function backupCell(h: HostResult): string {
  if (h.backup?.length) return h.backup.map((b) => `${b.site}: ${b.path.split('/').pop()} (${Math.round(b.sizeBytes / 1024)} KiB)`).join('; ');
  const st = h.steps.find((s) => s.step === 'verify-backup') ?? h.steps.find((s) => s.step === 'backup');
  return st ? `${STATUS_ICON[st.status] ?? ''} ${st.message}` : '—';
}

export function resultConclusion(result: RolloutResult): 'success' | 'failure' | 'neutral' {
  if (result.status === 'failed' || result.failures > 0) return 'failure';
  if (result.status === 'stopped') return 'neutral';
  return result.rings.some((r) => r.hosts.length) ? 'success' : 'neutral';
}

export function renderResult(result: RolloutResult, opts: { commit: string; notes?: string[] }): CheckOutput {
  const failed = failedHosts(result);
  const hosts = result.rings.flatMap((r) => r.hosts.map((h) => ({ ring: r.ring, h })));
  const upgraded = hosts.filter((x) => x.h.outcome === 'upgraded').length;
  const waiting = result.rings.reduce((n, r) => n + r.skipped.filter((k) => !k.converged).length, 0);
  // A stop with no failure is a pause (maintenance window, budget of another ring, abort):
  // the title must say what is pending, not "0 failed".
  const title =
    result.status === 'succeeded'
      ? `Applied: ${upgraded} upgraded, ${hosts.length - upgraded} unchanged`
      : failed.length
        ? `Rollout ${result.status}: ${failed.length} host(s) failed`
        : `Rollout ${result.status}: ${upgraded} upgraded, ${waiting} not started`;
  const s: string[] = [
    `<!-- fleetkeeper:failed=${failed.map((h) => h.customerId).join(',')} -->`,
    `### ${result.status === 'succeeded' ? '✅' : result.status === 'failed' ? '❌' : '⏸️'} ${title}`,
    '',
    `Commit ${code(shortSha(opts.commit))} · run ${code(result.runId)} · ${duration(result.durationMs)}${result.reason ? `\n\n**Why it stopped:** ${result.reason}` : ''}`,
  ];
  for (const n of opts.notes ?? []) s.push('', `> ${n}`);
  if (result.badTags.length) s.push('', `Tags marked bad (never promoted automatically): ${result.badTags.map(code).join(', ')}`);
  s.push('', '| Ring | Customer | From → To | Result | Duration | Backup | Rollback |', '| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of result.rings) {
    for (const h of r.hosts) {
      s.push(`| ${cell(r.ring)} | ${cell(h.customerId)} | ${tagMove(h.fromTag, h.toTag)} | ${cell(OUTCOME_LABEL[h.outcome] ?? h.outcome)} | ${duration(h.durationMs)} | ${cell(backupCell(h))} | ${cell(rollbackCell(h))} |`);
    }
    // A host not started was never observed: its current tag is unknown, and a bare
    // tag here would read as "already there".
    for (const k of r.skipped) s.push(`| ${cell(r.ring)} | ${cell(k.customerId)} | ${k.converged ? code(k.toTag) : tagMove(undefined, k.toTag)} | ${cell(`⏭️ skipped: ${k.reason}`)} | — | — | — |`);
  }
  s.push('', 'Rings: ' + result.rings.map((r) => `**${r.ring}** ${r.status}${r.reason ? ` (${r.reason})` : ''}`).join(' · '));
  if (failed.length) s.push('', 'Use **Retry failed** above to apply this commit again to the failed hosts once the cause is fixed.');

  const t: string[] = ['## Steps per host', ''];
  for (const r of result.rings) {
    for (const h of r.hosts) {
      t.push(`### ${h.customerId} (${r.ring}) — ${OUTCOME_LABEL[h.outcome] ?? h.outcome}`, '', h.message, '', '| Step | Status | Duration | What |', '| --- | --- | ---: | --- |');
      for (const st of h.steps) t.push(`| ${st.step} | ${STATUS_ICON[st.status] ?? ''} ${st.status} | ${duration(st.durationMs)} | ${cell(st.message)} |`);
      const outputs = h.steps.filter((st) => st.output && st.status !== 'ok');
      for (const st of outputs) t.push('', `<details><summary>${st.step} output</summary>`, '', fence(st.output!), '', '</details>');
      t.push('');
    }
  }
  return { title, summary: s.join('\n'), text: t.join('\n') };
}
