// `frspec`: the command line that reaches every capability of FR-Spec Complete without VS Code.
import { type Command, type CommandIO, UsageError } from './command';
import { commands } from './commands';

function findCommand(argv: string[]): { cmd: Command; rest: string[] } | undefined {
  let best: { cmd: Command; rest: string[] } | undefined;
  for (const cmd of commands) {
    if (cmd.name.every((w, i) => argv[i] === w) && (!best || cmd.name.length > best.cmd.name.length)) {
      best = { cmd, rest: argv.slice(cmd.name.length) };
    }
  }
  return best;
}

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.join(' ').length));
  return `usage: frspec COMMAND [options]   (frspec COMMAND --help for details)\n\ncommands:\n${commands
    .map((c) => `  ${c.name.join(' ').padEnd(width)}  ${c.summary}`)
    .join('\n')}\n`;
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const found = findCommand(argv);
  if (!found) {
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      io.stdout.write(overview());
      return argv.length === 0 ? 2 : 0;
    }
    io.stderr.write(`frspec: unknown command '${argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ')}' (see frspec --help)\n`);
    return 2;
  }
  const { cmd, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(cmd.help.endsWith('\n') ? cmd.help : cmd.help + '\n');
    return 0;
  }
  try {
    await cmd.run(rest, io);
    return 0;
  } catch (e) {
    const message = ((e as Error).message ?? String(e)).split('\n')[0];
    io.stderr.write(`frspec ${cmd.name.join(' ')}: ${message}\n`);
    if (rest.includes('--json')) io.stdout.write(JSON.stringify({ ok: false, error: message }) + '\n');
    return e instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  // `frspec ... | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }).then(
    (code) => { process.exitCode = code; },
    (e) => { process.stderr.write(`frspec: ${(e as Error).stack}\n`); process.exitCode = 1; },
  );
}
