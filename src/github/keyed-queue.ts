// Applies run one at a time per repository: a push that arrives while a
// rollout runs waits for it. In-process only; the host locks (src/host) stop
// two bot processes from changing the same host.
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly depth = new Map<string, number>();

  /** Runs `job` after every job queued before it under `key`; resolves with its result. */
  run<T>(key: string, job: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    this.depth.set(key, (this.depth.get(key) ?? 0) + 1);
    const result = prev.then(job);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      const d = (this.depth.get(key) ?? 1) - 1;
      if (d === 0) {
        this.depth.delete(key);
        if (this.tails.get(key) === tail) this.tails.delete(key);
      } else this.depth.set(key, d);
    });
    return result;
  }

  /** Jobs queued or running under `key`. */
  pending(key: string): number {
    return this.depth.get(key) ?? 0;
  }

  /** Resolves when every job queued so far has finished. */
  async idle(): Promise<void> {
    while (this.tails.size) await Promise.all([...this.tails.values()]);
  }
}
