// ../shared (demo models, corpus, tokenizer vectors) in the tests: common/shared-data.ts, and a mocha helper
// that skips a test clearly when it is absent.
export { demoModel, type DemoModel, repoRoot, sharedDir } from '../../common/shared-data';
import { sharedDir } from '../../common/shared-data';

/** Mocha helper: skip the current test or suite with a clear reason when ../shared is absent. */
export function requireShared(ctx: Mocha.Context): string {
  const dir = sharedDir();
  if (!dir) {
    console.log('    (skipped: ../shared is absent; demo models, corpus and tokenizer vectors live there)');
    ctx.skip();
  }
  return dir!;
}
