// Prune only after the health gate passed, never volumes. The previous tag's
// image is removed by reference (docker refuses while any container still
// uses it, which is fine: that is a warning), then dangling layers go.
// Docker runs one prune at a time per engine, so a failed prune is a warning.
import type { HostContext, StepOutcome, StepRecorder } from './context.js';

export async function prune(ctx: HostContext, rec: StepRecorder, previousImage?: string): Promise<StepOutcome> {
  const notes: string[] = [];
  let warn = false;
  if (previousImage) {
    const r = await rec.run(['docker', 'image', 'rm', previousImage], { mutates: true });
    if (!r.simulated) {
      if (r.code === 0) notes.push(`removed ${previousImage}`);
      else {
        warn = true;
        notes.push(`kept ${previousImage} (${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 160)})`);
      }
    }
  }
  const p = await rec.run(['docker', 'image', 'prune', '-f'], { mutates: true });
  if (rec.simulated) return { status: 'planned', message: `would remove ${previousImage ?? 'the previous image'} and prune dangling images (never volumes)` };
  if (p.code === 0) notes.push(`dangling images pruned${/Total reclaimed space: (.+)/.exec(p.stdout)?.[1] ? ` (${/Total reclaimed space: (.+)/.exec(p.stdout)![1]})` : ''}`);
  else {
    warn = true;
    notes.push(`image prune failed (exit ${p.code}): not an upgrade failure`);
  }
  return { status: warn ? 'warning' : 'ok', message: notes.join('; ') };
}
