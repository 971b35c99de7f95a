// Preflight: everything that can be checked before any downtime, including
// pulling the new image (the pull happens here, not during the change).
// A failed preflight refuses the host; nothing on it has changed.
import type { EnvChange } from './env-file.js';
import type { ObservationDetail } from './observe.js';
import { composeArgv, hostPaths, type HostContext, type StepOutcome, type StepRecorder } from './context.js';
import { parseComposeConfig } from './compose-parse.js';
import { describeLock } from './lock.js';
import { sh } from './shell.js';
import { pairs, RENDER } from './env-file.js';
import { parseSections, SECTIONS_SETUP, sectionsPrint } from './sections.js';

// The read-only preflight checks in ONE remote command (same section format
// as observe): compose config with the new tag, in a plan whether the image
// exists locally or in the registry, and the diff .env would get.
const PREFLIGHT_CHECKS = `# preflight checks (read-only)
envf=$1 image=$2 check_image=$3 v1=$4 x1=$5 v2=$6 x2=$7 o1=$8 o2=$9; shift 9
${RENDER}
${SECTIONS_SETUP}
cfgcheck() { if [ -n "$o2" ]; then env "$o1" "$o2" "$@" config --format json; else env "$o1" "$@" config --format json; fi; }
imagecheck() {
  docker image inspect --format '{{.Id}}' "$image" 2>/dev/null && exit 0
  docker manifest inspect --insecure "$image" >/dev/null 2>&1 || docker manifest inspect "$image" >/dev/null
}
envdiff() {
  render "$envf" "$v1" "$x1" "$v2" "$x2" > "$t/rendered" || exit 2
  diff -u --label a/.env --label b/.env "$envf" "$t/rendered"
  [ $? -le 1 ]
}
run cfg cfgcheck "$@" &
if [ "$check_image" = 1 ]; then run image imagecheck & fi
run diff envdiff
wait
${sectionsPrint('cfg image diff')}`;

export interface PreflightOutcome extends StepOutcome {
  ok: boolean;
  change?: EnvChange;
  targetImage: string;
  /** Unified diff .env would get (live only). */
  fileDiff?: string;
}

export async function preflight(ctx: HostContext, rec: StepRecorder, o: ObservationDetail, sites: string[]): Promise<PreflightOutcome> {
  const c = ctx.customer;
  const targetImage = `${c.image.repository}${c.image.tag.startsWith('sha256:') ? '@' : ':'}${c.image.tag}`;
  const refuse = (message: string): PreflightOutcome => ({ status: 'failed', ok: false, message, targetImage });
  if (o.simulated) {
    // Offline dry run: record the commands apply would run, say what would be checked.
    await rec.run(['docker', 'pull', targetImage], { mutates: true, timeoutSeconds: c.timeouts.pullSeconds });
    return {
      status: 'planned',
      ok: true,
      targetImage,
      message: `would check disk ≥ ${c.preflight.minFreeDiskMb} MiB, compose config with ${c.image.tag}, the host lock, and pull ${targetImage}`,
      change: { variable: 'CUSTOM_TAG', value: c.image.tag },
    };
  }
  if (!o.layout || o.layout.kind !== 'env') {
    const why =
      o.layout?.kind === 'baked'
        ? `the image tag is written into ${o.layout.file}, not taken from .env: fleetkeeper cannot set it safely. Make the image line \${CUSTOM_IMAGE}:\${CUSTOM_TAG} with both in .env`
        : `cannot tell how the tag is set: ${o.layout?.reason ?? 'compose config unreadable'}`;
    return refuse(`unsupported layout: ${why}`);
  }
  if (!o.composeConfigValid) return refuse(`docker compose config is invalid now: ${o.composeConfigError ?? ''}`.trim());
  if (o.freeDiskMb === undefined) return refuse('could not measure free disk');
  if (o.freeDiskMb < c.preflight.minFreeDiskMb) {
    return refuse(`not enough free disk: ${o.freeDiskMb} MiB free, ${c.preflight.minFreeDiskMb} MiB required (Docker root, compose dir and backup dir)`);
  }
  if (o.lock && o.lock.runId !== ctx.runId) return refuse(describeLock(o.lock));
  if (sites.length === 0) return refuse('no sites found in the backend (is it running?)');
  if (!o.services.some((s) => s.service === 'backend' && s.state === 'running')) return refuse('backend is not running: cannot take a backup');

  const change: EnvChange = { variable: o.layout.variable, value: c.image.tag };
  const envOverride = [`${o.layout.variable}=${c.image.tag}`];
  if (o.layout.imageVariable && o.envImage !== c.image.repository) {
    change.imageVariable = o.layout.imageVariable;
    change.image = c.image.repository;
  }
  if (o.layout.imageVariable) envOverride.push(`${o.layout.imageVariable}=${c.image.repository}`);
  const [v1, x1, v2 = '', x2 = ''] = pairs(change);
  const checks = await rec.run(
    [...sh(PREFLIGHT_CHECKS, `${hostPaths(c).env}`, targetImage, ctx.mode === 'plan' ? '1' : '0', v1!, x1!, v2, x2, envOverride[0]!, envOverride[1] ?? ''), ...composeArgv(c)],
    { mutates: false, quiet: true, timeoutSeconds: ctx.mode === 'plan' ? c.timeouts.pullSeconds : c.timeouts.commandSeconds },
  );
  if (checks.code === null) return { status: 'unknown', ok: false, targetImage, message: `preflight checks did not finish (connection lost or timed out)` };
  const section = parseSections(checks.stdout, checks);
  const cfg = section('cfg');
  const diff = section('diff');
  const fileDiff = diff.code === 0 ? diff.stdout : undefined;
  if (cfg.code !== 0) return refuse(`compose config is invalid with ${c.image.tag}: ${(cfg.stderr || cfg.stdout).trim().slice(-300)}`);
  const image = parseComposeConfig(cfg.stdout).services.backend?.image;
  if (image !== targetImage) return refuse(`with ${change.variable}=${c.image.tag} the backend image would be ${image ?? 'unset'}, expected ${targetImage}`);

  if (ctx.mode === 'plan') {
    const avail = section('image');
    await rec.run(['docker', 'pull', targetImage], { mutates: true, timeoutSeconds: c.timeouts.pullSeconds });
    if (avail.code !== 0) return refuse(`image ${targetImage} not found locally or in the registry`);
    return { status: 'ok', ok: true, change, targetImage, ...(fileDiff !== undefined ? { fileDiff } : {}), message: `disk ${o.freeDiskMb} MiB free, config valid with ${c.image.tag}, ${targetImage} available; would pull it` };
  }
  const pull = await rec.run(['docker', 'pull', targetImage], { mutates: true, timeoutSeconds: c.timeouts.pullSeconds });
  if (pull.code === null) return { status: 'unknown', ok: false, change, targetImage, message: `pull of ${targetImage} did not finish (connection lost or timed out)` };
  if (pull.code !== 0) return refuse(`could not pull ${targetImage} (exit ${pull.code}): ${pull.stderr.trim().split('\n').pop() ?? ''}`);
  return { status: 'ok', ok: true, change, targetImage, ...(fileDiff !== undefined ? { fileDiff } : {}), message: `disk ${o.freeDiskMb} MiB free, config valid with ${c.image.tag}, pulled ${targetImage}` };
}
