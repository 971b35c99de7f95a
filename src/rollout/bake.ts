// Bake: a ring that just completed must stay healthy for ring.bakeSeconds
// before its tag may move on. Health is re-checked periodically; one failure
// marks the tag bad (so it is never promoted automatically) and blocks
// promotion. The ring's completion time lives in the StateStore, so a bake
// interrupted by a restart resumes with the time that is left.
import pLimit from 'p-limit';
import type { Customer, Ring } from '../fleet/types.js';
import type { HostDriver } from '../host/types.js';
import type { EventSink } from './events.js';
import type { StateStore } from './state.js';

export interface BakeClock {
  now(): Date;
  /** Resolves after ms, or early when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: BakeClock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

export interface BakeOptions {
  ring: Ring;
  /** The ring's hosts that run `tag`. */
  customers: Customer[];
  tag: string;
  driver: HostDriver;
  state: StateStore;
  sink?: EventSink;
  signal?: AbortSignal;
  clock?: BakeClock;
  /** Seconds between health rounds; default: a fifth of the bake time, between 10 s and 300 s. */
  intervalSeconds?: number;
}

export interface BakeOutcome {
  healthy: boolean;
  reason?: string;
  rounds: number;
}

export async function bakeRing(opts: BakeOptions): Promise<BakeOutcome> {
  const clock = opts.clock ?? realClock;
  const emit = opts.sink ?? (() => {});
  const at = () => clock.now().toISOString();
  const { ring, tag, state } = opts;

  let completion = await state.getRingCompletion(ring.name, tag);
  if (!completion) {
    completion = { ring: ring.name, tag, completedAt: at() };
    await state.recordRingCompletion(completion);
  }
  if (completion.bakedAt) return { healthy: true, rounds: 0, reason: `already baked at ${completion.bakedAt}` };

  const until = new Date(new Date(completion.completedAt).getTime() + ring.bakeSeconds * 1000);
  const intervalMs =
    1000 * (opts.intervalSeconds ?? Math.min(300, Math.max(10, Math.floor(ring.bakeSeconds / 5))));
  emit({ type: 'bake-started', ring: ring.name, until: until.toISOString(), at: at() });

  const limit = pLimit(Math.max(1, ring.concurrency));
  let rounds = 0;
  for (;;) {
    if (opts.signal?.aborted) {
      const reason = 'bake interrupted; it resumes with the time left on the next run';
      emit({ type: 'bake-finished', ring: ring.name, healthy: false, reason, at: at() });
      return { healthy: false, reason, rounds };
    }
    rounds++;
    const checks = await Promise.all(
      opts.customers.map((c) =>
        limit(async () => {
          try {
            return { c, ...(await opts.driver.checkHealth(c)) };
          } catch (e) {
            return { c, healthy: false, detail: e instanceof Error ? e.message : String(e) };
          }
        }),
      ),
    );
    const sick = checks.filter((r) => !r.healthy);
    if (sick.length > 0) {
      const reason = `unhealthy during bake of ring ${ring.name}: ${sick.map((s) => `${s.c.id} (${s.detail})`).join(', ')}`;
      await state.markBadTag(tag, reason);
      emit({ type: 'tag-marked-bad', tag, reason, at: at() });
      emit({ type: 'bake-finished', ring: ring.name, healthy: false, reason, at: at() });
      return { healthy: false, reason, rounds };
    }
    const left = until.getTime() - clock.now().getTime();
    if (left <= 0) break;
    await clock.sleep(Math.min(intervalMs, left), opts.signal);
  }
  await state.recordRingCompletion({ ...completion, bakedAt: at() });
  emit({ type: 'bake-finished', ring: ring.name, healthy: true, at: at() });
  return { healthy: true, rounds };
}
