// Which workspace folder's vocabulary serves a file: in a multi-root workspace, the folder that holds the
// file (the deepest one when folders nest), so completions in one repository draft with that
// repository's own frequent tokens; files outside every folder (or none open) use the first folder.
import * as path from 'node:path';

/** The folder among `folders` that holds `file` (deepest first), else the first folder, else undefined. */
export function folderForFile(folders: readonly string[], file?: string): string | undefined {
  if (file) {
    const holding = folders
      .filter((f) => { const rel = path.relative(f, file); return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel); })
      .sort((a, b) => b.length - a.length);
    if (holding.length) return holding[0];
  }
  return folders[0];
}
