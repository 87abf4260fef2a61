import { serverStatus, startDevServer, stopDevServer } from '../server';
import { EXIT, out, err, UsageError, type Command } from './common';

export const server: Command = {
  name: 'server',
  help: 'rewrite-rl server start|stop|status      the local Temporal dev server (UI on port 8233)',
  flags: {},
  positionals: [1, 1],
  async run(s, [action]) {
    if (action === 'start') {
      if (s.address) {
        const st = await serverStatus(s);
        out(
          `TEMPORAL_ADDRESS is set (${s.address}): not starting a dev server; it is ${st.reachable ? 'reachable' : 'NOT reachable'}`,
        );
        return st.reachable ? EXIT.ok : EXIT.noServer;
      }
      const r = await startDevServer(s, err);
      out(
        `${r.reused ? 'a Temporal server is already running' : 'started the Temporal dev server'} at ${r.address}; UI ${r.uiUrl}`,
      );
      if (r.info) out(`  pid ${r.info.pid}, data ${r.info.dbFile}, log ${r.info.logFile}`);
      return EXIT.ok;
    }
    if (action === 'stop') {
      const stopped = await stopDevServer(s);
      out(stopped ? 'stopped the Temporal dev server' : 'no dev server started by rewrite-rl is running');
      return stopped ? EXIT.ok : EXIT.failed;
    }
    if (action === 'status') {
      const st = await serverStatus(s);
      out(
        `${st.address}: ${st.reachable ? 'reachable' : 'not reachable'}${st.info ? ` (dev server pid ${st.info.pid}, UI http://localhost:${st.info.uiPort})` : ''}`,
      );
      return st.reachable ? EXIT.ok : EXIT.noServer;
    }
    throw new UsageError(`server expects start, stop or status, not "${action}"`);
  },
};
