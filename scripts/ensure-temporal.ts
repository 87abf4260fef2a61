// Finds the Temporal CLI, building it into .tools/bin from its Go module when needed (used by .ci/run).
import { ensureTemporalBinary, temporalVersion } from '../temporal/binary';

const binary = await ensureTemporalBinary();
console.log(`temporal CLI: ${binary} (${temporalVersion(binary)})`);
