// The sidecar's process entry (bundled as dist/sidecar.js): serve on stdio, exit when the editor is gone.
import { runSidecar } from './main';

process.on('uncaughtException', (e) => { process.stderr.write(`[frspec sidecar] uncaught: ${e.stack}\n`); process.exit(70); });
runSidecar().then(() => process.exit(0));
