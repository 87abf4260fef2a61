// A long synchronous pass inside an activity must let the heartbeat timer run, or a loaded machine
// times the attempt out (the pretraining corpus's tokenization blocked the loop for over a minute).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapBreathing } from '../activities/breathe';

/** Work that holds the thread for about `ms`. */
function busy(ms: number): number {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) n++;
  return n;
}

test('mapBreathing maps in order and lets a timer fire during a long pass; a plain map does not', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    const items = Array.from({ length: 40 }, (_, i) => i);
    const out = await mapBreathing(items, (x, i) => (busy(5), x * 10 + i), 20);
    assert.deepEqual(
      out,
      items.map((x, i) => x * 10 + i),
    );
    assert.ok(ticks >= 3, `the timer fired ${ticks} times during a 200 ms pass broken every 20 ms`);
    ticks = 0;
    items.map(() => busy(5));
    assert.equal(ticks, 0, 'a plain map blocks the loop: the control this test measures against');
  } finally {
    clearInterval(timer);
  }
});
