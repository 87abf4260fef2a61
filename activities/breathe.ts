// Long synchronous passes inside an activity (tokenizing an 80,000-record pretraining corpus takes a
// minute or more on a loaded machine) block the event loop that sends the activity's heartbeats: the
// server then times the attempt out and retries it, only for the retry to block the same way.

/** Lets the event loop run: due timers (heartbeats), I/O, the CPU worker's workflow activations. */
export const breathe = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** `items.map(f)`, letting the event loop run after every `sliceMs` of work. */
export async function mapBreathing<T, R>(
  items: readonly T[],
  f: (item: T, index: number) => R,
  sliceMs = 50,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let since = performance.now();
  for (let i = 0; i < items.length; i++) {
    out[i] = f(items[i], i);
    if (performance.now() - since >= sliceMs) {
      await breathe();
      since = performance.now();
    }
  }
  return out;
}
