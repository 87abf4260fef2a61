import { runWorkersUntilSignal } from '../../workers/run';
import { EXIT, err, type Command } from './common';

export const worker: Command = {
  name: 'worker',
  help: `rewrite-rl worker [--cpu] [--device D]   run workers until Ctrl-C; D is cpu or cuda:N
                                           (no flag: the CPU worker and a cpu device worker)`,
  flags: { cpu: { type: 'boolean' }, device: { type: 'string' } },
  positionals: [0, 0],
  async run(s, _pos, v) {
    const cpu = !!v.cpu || !v.device;
    const device = (v.device as string | undefined) ?? (v.cpu ? undefined : 'cpu');
    await runWorkersUntilSignal(s, { cpu, device }, err);
    return EXIT.ok;
  },
};
