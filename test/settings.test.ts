import { test } from 'node:test';
import assert from 'node:assert/strict';
import { settingsFromEnv } from '../workers/settings';

test('settings: REWRITE_RL_SPINNING is 1/true or 0/false, unset means the runner default, anything else names the variable', () => {
  assert.equal(settingsFromEnv({ REWRITE_RL_SPINNING: '1' }).spinning, true);
  assert.equal(settingsFromEnv({ REWRITE_RL_SPINNING: 'true' }).spinning, true);
  assert.equal(settingsFromEnv({ REWRITE_RL_SPINNING: '0' }).spinning, false);
  assert.equal(settingsFromEnv({}).spinning, undefined);
  assert.throws(() => settingsFromEnv({ REWRITE_RL_SPINNING: 'yes' }), /REWRITE_RL_SPINNING=yes: expected 1 or 0/);
  assert.equal(settingsFromEnv({ REWRITE_RL_THREADS: '2' }).threads, 2);
});
