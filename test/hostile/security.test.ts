// Security defaults: the dev server listens on loopback only (every socket it opens), chat templates run
// in @huggingface/jinja's interpreter and cannot reach JavaScript, no code path hands a config value to a
// shell or to eval, and an API key is never printed, logged or written to a manifest.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { writeManifest } from '../../activities/manifest';
import { ModelFileError } from '../../engine/errors';
import { byteLevelTokenizerFiles, TextTokenizer } from '../../engine/tokenizer';
import { devServerArgs } from '../../temporal/server';
import { PROJECT_ROOT } from '../../workers/settings';
import { freePort } from '../helpers/ports';
import { tempDir, testEnvFile } from '../helpers/temporal';

/** Local addresses of the TCP sockets a process listens on (from /proc). */
function listening(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // the descriptor closed meanwhile
    }
  }
  const out: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').trim().split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && inodes.has(f[9])) out.push(f[1]); // 0A: LISTEN
    }
  }
  return out;
}

test('the dev server binds every listening socket (gRPC, HTTP API, metrics, UI) to loopback by default', async (t) => {
  if (process.platform !== 'linux') return t.skip('reads /proc');
  const [port, uiPort] = [await freePort(), await freePort()];
  const dir = await tempDir();
  const args = devServerArgs({ port, uiPort, dbFile: join(dir, 'db.sqlite') });
  assert.deepEqual(args.slice(2, 6), ['--ip', '127.0.0.1', '--ui-ip', '127.0.0.1']);
  const child = spawn(testEnvFile().temporalBinary, args, { stdio: 'ignore' });
  try {
    let addrs: string[] = [];
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 200));
      addrs = listening(child.pid!);
      const ports = addrs.map((a) => parseInt(a.split(':')[1], 16));
      if (ports.includes(port) && ports.includes(uiPort)) break;
    }
    assert.ok(addrs.length >= 2, `listening sockets: ${addrs.join(', ')}`);
    // 0100007F is 127.0.0.1 in /proc's byte order; IPv6 loopback is ::1
    for (const a of addrs)
      assert.ok(a.startsWith('0100007F:') || a.startsWith('00000000000000000000000001000000:'), `not loopback: ${a}`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
});

test('chat templates run in the jinja interpreter: no way to JavaScript, Node or the process', () => {
  const g = globalThis as Record<string, unknown>;
  delete g.__pwned;
  const attempts = [
    "{{ ''.constructor.constructor('globalThis.__pwned = 1')() }}",
    "{{ messages.constructor.constructor('globalThis.__pwned = 1')() }}",
    '{{ messages[0].content.__proto__ }}{{ messages.__proto__.constructor }}',
    '{{ process }}{{ require }}{{ globalThis }}{{ this }}',
    "{{ range.constructor('globalThis.__pwned = 1')() }}",
    "{% for k in messages[0] %}{{ k }}{% endfor %}{{ messages[0]['constructor'] }}",
    '{{ cycler.__init__.__globals__ }}{{ self.__init__ }}',
  ];
  for (const template of attempts) {
    let rendered = '';
    try {
      const tok = new TextTokenizer(
        byteLevelTokenizerFiles({ chatTemplate: template }).tokenizerJson,
        byteLevelTokenizerFiles({ chatTemplate: template }).tokenizerConfig,
      );
      rendered = tok.applyChatTemplate([{ role: 'user', content: 'hi' }]);
    } catch (e) {
      // refused at load (it fails on a one-message conversation): also fine
      assert.ok(e instanceof ModelFileError, `${template}: ${String(e)}`);
    }
    assert.equal(g.__pwned, undefined, template);
    assert.doesNotMatch(rendered, /function|native code|\[object|process|env/i, template);
  }
});

test('no config value reaches a shell or eval: child processes only in known files, with argument lists', () => {
  const roots = ['activities', 'engine', 'method', 'schemas', 'temporal', 'workers', 'workflows', 'world', 'bin'];
  const sources: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory() && e.name !== 'generated') walk(p);
      else if (/\.(ts|js|mjs|cjs)$/.test(e.name)) sources.push(p);
    }
  };
  for (const r of roots) walk(join(PROJECT_ROOT, r));
  const problems: string[] = [];
  const childProcessFiles: string[] = [];
  for (const file of sources) {
    const text = readFileSync(file, 'utf8');
    const rel = relative(PROJECT_ROOT, file);
    if (
      /\beval\s*\(|new Function\s*\(|shell:\s*true|\bexecSync\s*\(|\bexec\s*\(\s*[`'"a-z]/.test(
        text.replace(/\.exec\(/g, ''),
      )
    )
      problems.push(`${rel}: eval, new Function, a shell, or exec`);
    if (/from 'node:child_process'|require\('child_process'\)/.test(text)) childProcessFiles.push(rel);
  }
  assert.deepEqual(problems, []);
  // each of these runs a fixed program (git, the temporal binary, the runner's worker) with an argument list
  assert.deepEqual(childProcessFiles.sort(), [
    'activities/manifest.ts',
    'engine/runner/runner.ts',
    'temporal/binary.ts',
    'temporal/server.ts',
  ]);
});

test('an API key is never printed, logged or written to a manifest', async () => {
  const KEY = 'sk-sentinel-7f3a9c-do-not-print';
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: '127.0.0.1:1',
    TEMPORAL_API_KEY: KEY,
    REWRITE_RL_HOME: await tempDir(),
  };
  for (const args of [
    ['status', 'some-id'],
    ['server', 'status'],
    ['run', 'sft', '{}'],
  ]) {
    const r = await promisify(execFile)(process.execPath, [join(PROJECT_ROOT, 'bin/rewrite-rl.js'), ...args], {
      env,
      cwd: PROJECT_ROOT,
    }).catch((e: { stdout: string; stderr: string }) => e);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(KEY), `${args.join(' ')} printed the key`);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(KEY.slice(3, 20)), `${args.join(' ')} printed part of the key`);
  }
  const before = process.env.TEMPORAL_API_KEY;
  process.env.TEMPORAL_API_KEY = KEY;
  try {
    const dir = await tempDir();
    await writeManifest(dir, { kind: 'dataset', config: { name: 'x' }, seeds: {}, inputs: [], files: [] });
    assert.ok(!readFileSync(join(dir, 'manifest.json'), 'utf8').includes(KEY));
  } finally {
    if (before === undefined) delete process.env.TEMPORAL_API_KEY;
    else process.env.TEMPORAL_API_KEY = before;
  }
  // and no workflow input can carry one: no schema has a field for a key, token, secret or password
  for (const f of readdirSync(join(PROJECT_ROOT, 'schemas/json')))
    assert.doesNotMatch(
      readFileSync(join(PROJECT_ROOT, 'schemas/json', f), 'utf8'),
      /"(api_?key|apiKey|token|secret|password)"\s*:/i,
      f,
    );
});
