// The health gate: every long-running service running, and the frontend
// answering {"message":"pong"} for every site, N times in a row within a
// window (a fresh container may need a moment; one lucky answer is not
// health). No answer, a timeout or unparsable output all count as unhealthy.
import { composeArgv, sleep, type HostContext, type StepOutcome, type StepRecorder } from './context.js';
import { ONE_SHOT_SERVICES, parsePs } from './compose-parse.js';

export interface HealthOutcome extends StepOutcome {
  healthy: boolean;
}

export async function servicesRunning(ctx: HostContext, rec: StepRecorder): Promise<{ ok: boolean; detail: string; unknown?: boolean }> {
  const r = await rec.run([...composeArgv(ctx.customer), 'ps', '-a', '--format', 'json'], { mutates: false, quiet: true });
  if (r.code === null) return { ok: false, detail: 'connection lost', unknown: true };
  if (r.code !== 0) return { ok: false, detail: `docker compose ps failed (exit ${r.code})` };
  const services = parsePs(r.stdout).filter((s) => !ONE_SHOT_SERVICES.has(s.service));
  if (services.length === 0) return { ok: false, detail: 'no services found' };
  const bad = services.filter((s) => s.state !== 'running' || s.health === 'unhealthy');
  if (bad.length) return { ok: false, detail: `not running: ${bad.map((s) => `${s.service} (${s.state}${s.health ? `, ${s.health}` : ''})`).join(', ')}` };
  return { ok: true, detail: `${services.length} services running` };
}

async function probe(ctx: HostContext, rec: StepRecorder, site: string): Promise<{ ok: boolean; detail: string; unknown?: boolean }> {
  const h = ctx.customer.health;
  const url = `${h.url.replace(/\/+$/, '')}/api/method/ping`;
  const r = await rec.run(['curl', '-fsS', '-m', String(h.timeoutSeconds), '-H', `Host: ${site}`, url], {
    mutates: false,
    timeoutSeconds: h.timeoutSeconds + 5,
    quiet: true,
  });
  if (r.code === null) return { ok: false, detail: 'connection lost', unknown: true };
  if (r.code !== 0) return { ok: false, detail: `${site}: ${(r.stderr.trim() || `curl exit ${r.code}`).split('\n').pop()}` };
  try {
    const j = JSON.parse(r.stdout) as { message?: unknown };
    if (j.message === 'pong') return { ok: true, detail: `${site}: pong` };
  } catch {
    /* fall through */
  }
  return { ok: false, detail: `${site}: unexpected answer ${JSON.stringify(r.stdout.slice(0, 120))}` };
}

export async function healthGate(ctx: HostContext, rec: StepRecorder, sites: string[]): Promise<HealthOutcome> {
  const h = ctx.customer.health;
  if (sites.length === 0) return { status: 'failed', healthy: false, message: 'no sites to probe: not healthy' };
  const need = Math.max(1, h.attempts);
  const maxProbes = need * 3 + 5;
  let streak = 0;
  let last = '';
  for (let i = 0; i < maxProbes; i++) {
    if (i > 0) await sleep(h.intervalSeconds * 1000, ctx.signal);
    const svc = await servicesRunning(ctx, rec);
    let ok = svc.ok;
    last = svc.detail;
    if (svc.unknown) return { status: 'unknown', healthy: false, message: `health unknown: ${svc.detail}` };
    if (ok) {
      for (const s of sites) {
        const p = await probe(ctx, rec, s);
        if (p.unknown) return { status: 'unknown', healthy: false, message: `health unknown: ${p.detail}` };
        if (!p.ok) {
          ok = false;
          last = p.detail;
          break;
        }
      }
    }
    streak = ok ? streak + 1 : 0;
    if (streak >= need) {
      return { status: 'ok', healthy: true, message: `healthy: ${need} consecutive pong(s) for ${sites.join(', ')}, ${svc.detail}` };
    }
    if (ctx.signal?.aborted) break;
  }
  return { status: 'failed', healthy: false, message: `unhealthy: no ${need} consecutive successes in ${maxProbes} probes (last: ${last})` };
}
