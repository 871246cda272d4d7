// Runs code-server (VS Code 1.100 in a browser, with a real Node extension host) for the e2e test, in fresh
// temporary folders, following ../shared/docs/e2e-vscode.md. Installed by scripts/e2e-setup.sh.
import * as cp from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface CodeServer {
  url: string;
  root: string;
  userDataDir: string;
  workspace: string;
  stop(): Promise<void>;
}

export function installCodeServer(repoRoot: string): string {
  const out = cp.execFileSync(path.join(repoRoot, 'scripts', 'e2e-setup.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop()!;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const p = (srv.address() as net.AddressInfo).port; srv.close(() => resolve(p)); });
    srv.on('error', reject);
  });
}

/** The settings whose scope in our package.json is machine or machine-overridable (the others stay user settings). */
function machineScoped(settings: Record<string, unknown>): Record<string, unknown> {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const props: Record<string, { scope?: string }> = pkg.contributes.configuration.properties;
  return Object.fromEntries(Object.entries(settings).filter(([k]) => /^machine/.test(props[k]?.scope ?? '')));
}

export async function startCodeServer(bin: string, vsix: string, settings: Record<string, unknown>, files: Record<string, string>): Promise<CodeServer> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'frspec-e2e-'));
  const userDataDir = path.join(root, 'user-data'), extensionsDir = path.join(root, 'extensions'), workspace = path.join(root, 'workspace');
  for (const [rel, text] of Object.entries(files)) { fs.mkdirSync(path.dirname(path.join(workspace, rel)), { recursive: true }); fs.writeFileSync(path.join(workspace, rel), text); }
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  // code-server's window is a remote one: machine-scoped settings (frspec.model & co. are
  // machine-overridable) belong in its remote ("Machine") settings. Seen here: from the user settings alone
  // they hold at start, but after the first settings write (the menu's enable toggles) the extension reads
  // frspec.model as '' and cannot load the model again after Unload Model.
  fs.mkdirSync(path.join(userDataDir, 'Machine'), { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'Machine', 'settings.json'), JSON.stringify(machineScoped(settings), null, 2));
  const env = { ...process.env, XDG_CONFIG_HOME: path.join(root, 'config'), XDG_DATA_HOME: path.join(root, 'data') };
  cp.execFileSync(bin, ['--extensions-dir', extensionsDir, '--user-data-dir', userDataDir, '--install-extension', vsix], { env, stdio: 'pipe' });
  const port = await freePort();
  const log = fs.openSync(path.join(root, 'code-server.log'), 'w');
  const proc = cp.spawn(bin, [
    '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-workspace-trust', '--disable-telemetry',
    '--disable-update-check', '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir,
    // FRSPEC_TRACE=1: trace log level, so the extension's log channel records every completion.
    ...(process.env.FRSPEC_TRACE ? ['--log', 'trace'] : []), workspace,
  ], { env, detached: true, stdio: ['ignore', log, log] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try { if ((await fetch(`${url}/healthz`)).ok) break; } catch { /* not up yet */ }
    if (proc.exitCode !== null) throw new Error(`code-server exited (${proc.exitCode}); see ${root}/code-server.log`);
    if (Date.now() > deadline) throw new Error(`code-server did not answer /healthz within 60 s; see ${root}/code-server.log`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url: `${url}/?folder=${encodeURIComponent(workspace)}`, root, userDataDir, workspace,
    stop: async () => {
      // Its own process group: code-server, its extension host and our sidecar go together.
      try { process.kill(-proc.pid!, 'SIGTERM'); } catch { /* gone */ }
      await new Promise((r) => setTimeout(r, 500));
      try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ }
      fs.closeSync(log);
    },
  };
}
