/**
 * A minimal protobuf writer: just the wire types ONNX needs (varint, 64-bit, length-delimited, 32-bit).
 * Nested messages keep their chunks by reference, so large tensors are copied once, at `finish()`.
 */
const enc = new TextEncoder();

export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  length = 0;

  private flush(): void {
    if (!this.scratch.length) return;
    this.chunks.push(Uint8Array.from(this.scratch));
    this.scratch = [];
  }

  private byte(b: number): void {
    this.scratch.push(b);
    this.length++;
  }

  varint(v: number | bigint): void {
    if (typeof v === 'number' && v >= 0 && v <= Number.MAX_SAFE_INTEGER) {
      while (v > 127) {
        this.byte((v % 128) | 128);
        v = Math.floor(v / 128);
      }
      this.byte(v);
      return;
    }
    // Negative or large: two's complement over 64 bits, 10 bytes at most.
    let x = BigInt.asUintN(64, BigInt(v));
    while (x > 127n) {
      this.byte(Number(x & 127n) | 128);
      x >>= 7n;
    }
    this.byte(Number(x));
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, v: number | bigint): void {
    this.tag(field, 0);
    this.varint(v);
  }

  float(field: number, v: number): void {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.byte(x);
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.flush();
    this.chunks.push(data);
    this.length += data.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, enc.encode(s));
  }

  message(field: number, m: ProtoWriter): void {
    this.tag(field, 2);
    this.varint(m.length);
    this.flush();
    m.flush();
    for (const c of m.chunks) this.chunks.push(c); // not push(...): large subgraphs overflow the call stack
    this.length += m.length;
  }

  packedInts(field: number, vs: readonly (number | bigint)[]): void {
    const m = new ProtoWriter();
    for (const v of vs) m.varint(v);
    this.message(field, m);
  }

  packedFloats(field: number, vs: readonly number[]): void {
    const b = new Uint8Array(4 * vs.length);
    const dv = new DataView(b.buffer);
    vs.forEach((v, i) => dv.setFloat32(4 * i, v, true));
    this.bytes(field, b);
  }

  /** The chunks, for streaming to a file without one big concatenation. */
  parts(): Uint8Array[] {
    this.flush();
    return this.chunks;
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}
