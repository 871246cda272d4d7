// Every `frspec` subcommand, in the order `frspec --help` lists them. Each lives in its own file.
import type { Command } from '../command';
import { benchSpec } from './bench-spec';
import { benchTyping } from './bench-typing';
import { demo } from './demo';
import { generate } from './generate';
import { inspect } from './inspect';
import { serve } from './serve';
import { tokenize } from './tokenize';
import { vocabCommands } from './vocab';
import { vocabExport } from './vocab-export';

export const commands: Command[] = [benchSpec, benchTyping, demo, generate, inspect, serve, tokenize, ...vocabCommands, vocabExport];
