// ../shared beside the checkout (demo models, corpus, tokenizer vectors) for the command line, benchmarks and
// tests. The project builds and passes its own tests without it: every user checks for `undefined`.
import { demoModelPath, type DemoModelName, sharedDir as sharedDirOf } from './models';
import { packageRoot } from './paths';

export const repoRoot = packageRoot();

/** The shared folder beside the checkout (or $FRSPEC_SHARED), or undefined when it is absent. */
export const sharedDir = (): string | undefined => sharedDirOf(repoRoot);

export type DemoModel = DemoModelName;

/** Path of a decompressed demo model in .cache/models (decompressing it once), or undefined without ../shared. */
export const demoModel = (name: DemoModel): string | undefined => demoModelPath(repoRoot, name);
