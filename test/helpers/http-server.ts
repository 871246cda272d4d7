// `frspec serve --http` as a child process for the HTTP suites (the real CLI, engine and demo models), and a
// small HTTP client that never throws on a status: every answer comes back as {status, headers, text}.
import * as cp from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { repoRoot } from './shared';

export interface ServedHttp {
  url: string;
  proc: cp.ChildProcess;
  stderr: () => string;
  close(): Promise<void>;
}

/** Starts `frspec serve --http --port 0 ...args` and resolves with its URL once it listens. */
export function startHttpServer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServedHttp> {
  const proc = cp.spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'cli', 'frspec.ts'), 'serve', '--http', '--port', '0', ...args], {
    cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env },
  });
  let err = '';
  proc.stderr!.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s: ${err}`)), 60_000);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code}: ${err}`)); });
    proc.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      clearTimeout(timer);
      proc.removeAllListeners('exit');
      const url = JSON.parse(line).url as string;
      resolve({
        url, proc, stderr: () => err,
        close: async () => {
          if (proc.exitCode !== null) return;
          const exited = new Promise((r) => proc.once('exit', r));
          proc.kill('SIGTERM');
          await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
          if (proc.exitCode === null) proc.kill('SIGKILL');
        },
      });
    });
  });
}

export interface HttpAnswer { status: number; headers: http.IncomingHttpHeaders; text: string; json?: any }

/** One request; resolves with whatever the server answered (or rejects on a socket error). */
export function request(url: string, method: string, route: string, body?: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<HttpAnswer> {
  const data = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${route}`, {
      method, signal, agent: false,
      headers: { ...(data !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}), ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try { json = JSON.parse(text); } catch { /* SSE or text */ }
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

/** The `data:` payloads of a server-sent-events body, parsed (`[DONE]` kept as the string). */
export function sseEvents(text: string): any[] {
  return text.split('\n\n').map((e) => e.trim()).filter((e) => e.startsWith('data: ')).map((e) => {
    const d = e.slice(6);
    return d === '[DONE]' ? d : JSON.parse(d);
  });
}

/** A Prometheus sample's value from /metrics text (first match of `name{labels}` or `name`). */
export function metric(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : undefined;
}
