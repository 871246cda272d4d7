// vscode-jsonrpc publishes its Node entry only through package.json "exports" (`vscode-jsonrpc/node`), which
// this project's TypeScript resolution ("node") does not read: types come from the file, values from the export.
import type * as Rpc from 'vscode-jsonrpc/lib/node/main';

export type { CancellationToken, MessageConnection } from 'vscode-jsonrpc/lib/node/main';
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const rpc: typeof Rpc = require('vscode-jsonrpc/node');
