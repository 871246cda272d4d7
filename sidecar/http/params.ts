// Reading fields of a JSON request body: each reader returns the value or the default, and refuses a wrong
// type with a 400 that names the field (llama.cpp silently ignores wrong types; a clear error is kinder).
import { HttpError } from './errors';

export type Body = Record<string, unknown>;

const bad = (name: string, what: string, v: unknown) =>
  new HttpError(400, `\`${name}\` must be ${what}, got ${JSON.stringify(v)?.slice(0, 60) ?? String(v)}`);

export function optString(b: Body, name: string, def = ''): string {
  const v = b[name];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'string') throw bad(name, 'a string', v);
  return v;
}

export function optInt(b: Body, name: string, def: number, min: number, max: number): number {
  const v = b[name];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(name, `an integer from ${min} to ${max}`, v);
  return v;
}

export function optNumber(b: Body, name: string, def: number, min = -Infinity, max = Infinity): number {
  const v = b[name];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw bad(name, `a number from ${min} to ${max}`, v);
  return v;
}

export function optBool(b: Body, name: string, def: boolean): boolean {
  const v = b[name];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'boolean') throw bad(name, 'true or false', v);
  return v;
}

/** A string or an array of strings (OpenAI's and llama.cpp's `stop`), at most `max` of them. */
export function optStops(b: Body, name: string, max = 64): string[] {
  const v = b[name];
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) throw bad(name, 'a string or an array of strings', v);
  if (list.length > max) throw new HttpError(400, `\`${name}\` has ${list.length} entries; at most ${max}`);
  return (list as string[]).filter((x) => x.length > 0);
}

/** Sampling fields clients send (Continue: temperature, top_p, ...; llama.vscode: top_k, top_p, samplers): type-checked, then not used. */
export function checkSamplingFields(b: Body): void {
  for (const name of ['temperature', 'top_p', 'top_k', 'min_p', 'frequency_penalty', 'presence_penalty', 'repeat_penalty', 'typical_p', 'mirostat']) optNumber(b, name, 0);
  const s = b.samplers;
  if (s !== undefined && s !== null && typeof s !== 'string' && !(Array.isArray(s) && s.every((x) => typeof x === 'string'))) throw bad('samplers', 'a string or an array of strings', s);
}
