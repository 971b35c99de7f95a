// What a person would see on GitHub after the demo, as one self-contained
// HTML page: each pull request (title, body, changed files) with its check
// runs, and each push to main with its apply check run. Check runs and the
// bot's pull requests are exactly what the app sent to the stand-in; the
// operator's pull requests are what the demo opened (as a person would).
import { marked } from 'marked';
import sanitizeHtml from 'sanitize-html';
import type { GitRepo } from '../test/github/standin/git-repo.js';
import type { GitHubStandin, StoredCheckRun, StoredPull } from '../test/github/standin/server.js';

export type StoryEntry =
  | {
      kind: 'pr';
      number: number;
      /** For the operator's PR; a bot PR's title and body are read from the stand-in. */
      title?: string;
      body?: string;
      author: string;
      head: string;
      headSha: string;
      baseSha: string;
      mergedAs?: string;
      /** `git diff base head` and the changed paths, taken when the PR was shown. */
      diff: string;
      files: string[];
    }
  | { kind: 'push'; before: string; sha: string; message: string; pusher: string };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

// Roughly what GitHub lets through in rendered Markdown.
const ALLOWED = {
  allowedTags: ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'br', 'hr', 'a', 'strong', 'em', 'del', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'details', 'summary', 'sub', 'sup', 'kbd', 'input'],
  allowedAttributes: { a: ['href', 'title'], th: ['align'], td: ['align'], input: ['type', 'checked', 'disabled'], details: ['open'], ol: ['start'] },
  allowedSchemes: ['http', 'https', 'mailto'],
};

export function markdown(md: string | null | undefined): string {
  if (!md) return '';
  const html = marked.parse(md, { gfm: true, async: false }) as string;
  return sanitizeHtml(html, ALLOWED);
}

function badge(run: StoredCheckRun): string {
  const state = run.status === 'completed' ? (run.conclusion ?? 'completed') : run.status;
  const icon: Record<string, string> = { success: '✓', failure: '✗', neutral: '■', cancelled: '⊘', in_progress: '●', queued: '○', skipped: '→', timed_out: '✗', action_required: '!' };
  return `<span class="badge ${esc(state)}">${icon[state] ?? '•'} ${esc(state.replace('_', ' '))}</span>`;
}

function firstLine(md: string | null | undefined): string {
  return (md ?? '').split('\n').map((l) => l.replace(/<!--.*?-->/g, '').replace(/^#+\s*/, '').trim()).find(Boolean) ?? '';
}

function checkRunHtml(run: StoredCheckRun, standin: DemoRecord): string {
  const writes = standin.requests.filter((r) => (r.operationId === 'checks/create' || r.operationId === 'checks/update') && r.status < 300 && matchesRun(r, run));
  const updates = run.writes.map((w, i) => {
    const out = w.output as { title?: string; summary?: string } | undefined;
    const at = writes[i] ? new Date(writes[i]!.at).toISOString().slice(11, 19) : '';
    const what = [w.status ? `status ${w.status}` : '', w.conclusion ? `conclusion ${w.conclusion}` : '', out?.title ? `“${out.title}”` : '', firstLine(out?.summary)].filter(Boolean).join(' · ');
    return `<li><span class="time">${esc(at)}</span> ${esc(what)}</li>`;
  });
  const annotations = run.annotations.length
    ? `<h4>Annotations (${run.annotations.length})</h4><ul class="annotations">${run.annotations
        .map(
          (a) =>
            `<li class="${esc(a.annotation_level)}"><span class="level">${esc(a.annotation_level)}</span> <code>${esc(a.path)}:${a.start_line}${a.end_line !== a.start_line ? `-${a.end_line}` : ''}</code>${a.title ? ` <strong>${esc(a.title)}</strong>` : ''}<div class="msg">${esc(a.message)}</div>${a.raw_details ? `<pre>${esc(a.raw_details)}</pre>` : ''}</li>`,
        )
        .join('')}</ul>`
    : '';
  const actions = run.actions.length
    ? `<div class="actions">${run.actions.map((a) => `<button disabled title="${esc(a.description)}">${esc(a.label)}</button> <small>${esc(a.identifier)}</small>`).join(' ')}</div>`
    : '';
  return `<section class="check">
  <div class="check-head">${badge(run)} <strong>${esc(run.name)}</strong> <span class="muted">on ${esc(run.head_sha.slice(0, 7))} · check run ${run.id}${run.completed_at ? ` · ${esc(run.started_at ?? '')} → ${esc(run.completed_at)}` : ''}</span></div>
  <h3>${esc(run.output.title ?? '')}</h3>
  ${actions}
  <div class="md">${markdown(run.output.summary)}</div>
  ${run.output.text ? `<details class="text"><summary>Details</summary><div class="md">${markdown(run.output.text)}</div></details>` : ''}
  ${annotations}
  <details class="updates"><summary>${run.writes.length} request(s) the app sent for this check run</summary><ol>${updates.join('')}</ol></details>
</section>`;
}

function matchesRun(r: SlimRequest, run: StoredCheckRun): boolean {
  if (r.operationId === 'checks/update') return r.path.endsWith(`/check-runs/${run.id}`);
  return r.name === run.name && r.head_sha === run.head_sha;
}

/** Diff text and changed paths between two commits, for the record. */
export function diffOf(git: GitRepo, base: string, head: string): { diff: string; files: string[] } {
  return { diff: git.git(['diff', '--no-color', '-M', base, head]), files: git.diffNameStatus(base, head).map((f) => f.path) };
}

function diffHtml(e: { diff: string; files: string[] }): string {
  const lines = e.diff.split('\n').map((l) => {
    const cls = l.startsWith('+++') || l.startsWith('---') || l.startsWith('diff ') || l.startsWith('index ') ? 'meta' : l.startsWith('@@') ? 'hunk' : l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : '';
    return `<span class="${cls}">${esc(l)}</span>`;
  });
  return `<details class="files" open><summary>Files changed (${e.files.length}): ${e.files.map((f) => `<code>${esc(f)}</code>`).join(', ')}</summary><pre class="diff">${lines.join('\n')}</pre></details>`;
}

interface SlimRequest {
  operationId?: string;
  path: string;
  status: number;
  at: number;
  /** checks/create only: which run it made. */
  name?: string;
  head_sha?: string;
}

/** Everything the page shows, as plain data (demo-output/record.json): the stand-in's records and the demo's story. */
export interface DemoRecord {
  title: string;
  notes: string[];
  fullName: string;
  defaultBranch: string;
  appSlug: string;
  openapiVersion: string;
  checkRuns: StoredCheckRun[];
  pulls: StoredPull[];
  requests: SlimRequest[];
  problems: string[];
  story: StoryEntry[];
}

export function recordOf(standin: GitHubStandin, story: StoryEntry[], title: string, notes: string[]): DemoRecord {
  return {
    title,
    notes,
    fullName: standin.fullName,
    defaultBranch: standin.defaultBranch,
    appSlug: standin.appSlug,
    openapiVersion: standin.openapiVersion,
    checkRuns: [...standin.checkRuns.values()],
    pulls: [...standin.pulls.values()],
    requests: standin.requests.map((r) => {
      const b = r.operationId === 'checks/create' ? (r.body as { name?: string; head_sha?: string } | undefined) : undefined;
      return { operationId: r.operationId, path: r.path, status: r.status, at: r.at, ...(b ? { name: b.name, head_sha: b.head_sha } : {}) };
    }),
    problems: standin.problems,
    story,
  };
}

export function renderPage(input: DemoRecord): string {
  const standin = input;
  const { story } = input;
  const shown = new Set<number>();
  const runsFor = (sha: string) =>
    standin.checkRuns
      .filter((r) => r.head_sha === sha)
      .sort((a, b) => a.id - b.id)
      .map((r) => {
        shown.add(r.id);
        return checkRunHtml(r, standin);
      })
      .join('\n');
  const parts = story.map((e) => {
    if (e.kind === 'pr') {
      const stored = standin.pulls.find((p) => p.number === e.number);
      const fromApp = e.author === `${standin.appSlug}[bot]`;
      const title = (fromApp ? stored?.title : e.title) ?? '';
      const body = (fromApp ? stored?.body : e.body) ?? '';
      const state = e.mergedAs ? `<span class="badge merged">merged</span>` : `<span class="badge open">open</span>`;
      return `<article class="pr">
  <h2>${esc(title)} <span class="muted">#${e.number}</span></h2>
  <p class="meta">${state} ${e.mergedAs ? `<code>${esc(e.head)}</code> merged into <code>${esc(standin.defaultBranch)}</code> as ${esc(e.mergedAs.slice(0, 7))}` : `<code>${esc(e.head)}</code> → <code>${esc(standin.defaultBranch)}</code>`} · head ${esc(e.headSha.slice(0, 7))} · opened by <strong>${esc(e.author)}</strong>${fromApp ? ' (the app’s POST /pulls, as the stand-in recorded it)' : ' (the operator, played by the demo)'}</p>
  <div class="body md">${markdown(body) || '<p class="muted">No description provided.</p>'}</div>
  ${diffHtml(e)}
  <h3 class="checks-title">Checks on ${esc(e.headSha.slice(0, 7))}</h3>
  ${runsFor(e.headSha) || '<p class="muted">none</p>'}
</article>`;
    }
    return `<article class="push">
  <h2>Push to <code>${esc(standin.defaultBranch)}</code>: ${esc(e.message.split('\n')[0] ?? '')}</h2>
  <p class="meta"><strong>${esc(e.pusher)}</strong> pushed ${esc(e.before.slice(0, 7))}…${esc(e.sha.slice(0, 7))}</p>
  <h3 class="checks-title">Checks on ${esc(e.sha.slice(0, 7))}</h3>
  ${runsFor(e.sha) || '<p class="muted">none</p>'}
</article>`;
  });
  const toc = story
    .map((e) => {
      const sha = e.kind === 'pr' ? e.headSha : e.sha;
      const what = e.kind === 'pr' ? `PR #${e.number} ${e.kind === 'pr' && e.author === `${standin.appSlug}[bot]` ? (standin.pulls.find((p) => p.number === e.number)?.title ?? '') : (e.title ?? '')}` : `push ${e.sha.slice(0, 7)} to ${standin.defaultBranch}`;
      const runs = standin.checkRuns.filter((r) => r.head_sha === sha).sort((a, b) => a.id - b.id);
      return `<li>${esc(what)} ${runs.map((r) => `${badge(r)} <span class="muted">${esc(r.name)}: ${esc(r.output.title ?? '')}</span>`).join(' ')}</li>`;
    })
    .join('');
  const rest = standin.checkRuns.filter((r) => !shown.has(r.id));
  if (rest.length) parts.push(`<article><h2>Other check runs</h2>${rest.map((r) => checkRunHtml(r, standin)).join('\n')}</article>`);
  const problems = standin.problems.length
    ? `<p class="bad">The stand-in saw ${standin.problems.length} request(s) that GitHub would reject:</p><ul>${standin.problems.map((p) => `<li><code>${esc(p)}</code></li>`).join('')}</ul>`
    : `<p>All ${standin.requests.length} requests the app sent matched GitHub's OpenAPI description (@octokit/openapi ${esc(standin.openapiVersion)}).</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(input.title)}</title>
<style>${CSS}</style></head>
<body><main>
<header><h1>${esc(input.title)}</h1>
<p class="muted">Repository <code>${esc(standin.fullName)}</code> on the GitHub stand-in · generated ${esc(new Date().toISOString())}</p>
${problems}
${input.notes.map((n) => `<p class="muted">${esc(n)}</p>`).join('\n')}
<ol class="toc">${toc}</ol>
</header>
${parts.join('\n')}
</main></body></html>
`;
}

const CSS = `
:root { --fg:#1f2328; --muted:#59636e; --border:#d1d9e0; --bg:#f6f8fa; --green:#1a7f37; --red:#d1242f; --purple:#8250df; --yellow:#9a6700; --blue:#0969da; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif; color:var(--fg); background:#fff; }
main { max-width: 1012px; margin: 0 auto; padding: 24px 16px 64px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 0 0 8px; border:0; } h3 { font-size: 16px; margin: 12px 0 8px; }
code, pre { font-family: ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,monospace; font-size: 12px; }
code { background: rgba(175,184,193,.2); padding: .1em .35em; border-radius: 6px; }
pre { background: var(--bg); padding: 12px; border-radius: 6px; overflow: auto; }
pre code { background: none; padding: 0; }
a { color: var(--blue); }
.muted { color: var(--muted); }
.toc li { margin: 4px 0; } .toc .badge { margin-left: 6px; } .bad { color: var(--red); font-weight: 600; }
header { border-bottom: 1px solid var(--border); margin-bottom: 24px; padding-bottom: 12px; }
article { border: 1px solid var(--border); border-radius: 6px; padding: 16px; margin: 0 0 24px; }
article.push { background: #fbfcfd; }
.meta { color: var(--muted); margin: 0 0 12px; }
.body { border: 1px solid var(--border); border-radius: 6px; padding: 8px 16px; margin-bottom: 12px; }
.badge { display: inline-block; border-radius: 2em; padding: 0 10px; font-size: 12px; font-weight: 600; color: #fff; background: var(--muted); line-height: 22px; }
.badge.success, .badge.open { background: var(--green); } .badge.failure, .badge.timed_out { background: var(--red); }
.badge.merged { background: var(--purple); } .badge.in_progress, .badge.queued { background: var(--yellow); } .badge.neutral { background: var(--muted); }
.check { border: 1px solid var(--border); border-radius: 6px; padding: 12px 16px; margin: 8px 0 12px; }
.check-head { padding-bottom: 8px; border-bottom: 1px solid var(--border); }
.md table { border-collapse: collapse; margin: 8px 0; display: block; overflow: auto; }
.md th, .md td { border: 1px solid var(--border); padding: 4px 10px; text-align: left; }
.md tr:nth-child(2n) td { background: var(--bg); }
.md blockquote { margin: 0; padding: 0 1em; color: var(--muted); border-left: .25em solid var(--border); }
.md h1, .md h2, .md h3 { font-size: 16px; }
.actions { margin: 8px 0; } .actions button { font: inherit; padding: 3px 12px; border: 1px solid var(--border); border-radius: 6px; background: var(--bg); }
.annotations { list-style: none; padding: 0; } .annotations li { border-left: 4px solid var(--yellow); padding: 4px 8px; margin: 6px 0; background: var(--bg); }
.annotations li.failure { border-color: var(--red); } .annotations li.notice { border-color: var(--blue); }
.level { font-weight: 600; text-transform: uppercase; font-size: 11px; }
details > summary { cursor: pointer; color: var(--muted); margin: 6px 0; }
.updates ol { color: var(--muted); font-size: 12px; } .time { font-family: ui-monospace,monospace; }
pre.diff .add { color: var(--green); background: #dafbe1; display: inline-block; width: 100%; }
pre.diff .del { color: var(--red); background: #ffebe9; display: inline-block; width: 100%; }
pre.diff .hunk { color: var(--blue); } pre.diff .meta { color: var(--muted); font-weight: 600; }
`;
