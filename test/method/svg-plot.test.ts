import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fit, scatterSvg } from '../../method/svg-plot';

test('a scatter plot with labels, error bars and a fitted line', () => {
  const points = [
    { x: 0.2, y: 3, label: 'oracle', low: 1, high: 5 },
    { x: 0.5, y: 9, label: 'oracle-50' },
    { x: 0.9, y: 15, label: 'vanilla <foreign>' },
  ];
  const svg = scatterSvg(points, { title: 'Forgetting vs NLL', xLabel: 'NLL', yLabel: 'forgetting', fitLine: true });
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal(svg.match(/<circle /g)?.length, 3);
  assert.match(svg, /vanilla &lt;foreign&gt;/);
  assert.match(svg, /stroke-dasharray/);
  assert.ok(!/NaN|Infinity/.test(svg));
  const { a, b } = fit([
    { x: 0, y: 1 },
    { x: 1, y: 3 },
  ]);
  assert.deepEqual([a, b], [1, 2]);
});
