// Checks of request parameters from the wire: each failure is a -32602 error naming the field, what it
// must be (with its range) and a short, bounded description of what came (never the whole value: a
// prompt of millions of parts or nesting a million deep must not become a huge or recursive message).
import { SidecarError } from './errors';
import { ErrorCode } from './protocol';

/** A bounded, non-recursive description of any value, for error messages. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters` : JSON.stringify(v);
  return String(v);
}

export function invalid(method: string, field: string, expected: string, got: unknown): SidecarError {
  return new SidecarError(ErrorCode.InvalidParams, `${method}: \`${field}\` must be ${expected}, got ${describe(got)}`);
}

/** The fields of a params object, read only as its own properties (`__proto__`, `toString` are not fields). */
export class Fields {
  constructor(readonly method: string, private readonly p: Record<string, unknown>) {}

  get(field: string): unknown {
    return Object.prototype.hasOwnProperty.call(this.p, field) ? this.p[field] : undefined;
  }

  int(field: string, min: number, max: number, def: number): number;
  int(field: string, min: number, max: number): number | undefined;
  int(field: string, min: number, max: number, def?: number): number | undefined {
    const v = this.get(field);
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(this.method, field, `an integer from ${min} to ${max}`, v);
    return v;
  }

  bool(field: string, def: boolean): boolean {
    const v = this.get(field);
    if (v === undefined) return def;
    if (typeof v !== 'boolean') throw invalid(this.method, field, 'true or false', v);
    return v;
  }

  optBool(field: string): boolean | undefined {
    return this.get(field) === undefined ? undefined : this.bool(field, false);
  }

  str(field: string, opts: { maxLength?: number; required?: boolean } = {}): string | undefined {
    const v = this.get(field);
    const max = opts.maxLength ?? 4096;
    if (v === undefined && !opts.required) return undefined;
    if (typeof v !== 'string' || v.length === 0 || v.length > max) throw invalid(this.method, field, `a non-empty string of at most ${max} characters`, v);
    return v;
  }

  /** A file system path: a non-empty string without NUL bytes. */
  path(field: string, required: true): string;
  path(field: string, required?: boolean): string | undefined;
  path(field: string, required = false): string | undefined {
    const v = this.str(field, { maxLength: 4096, required });
    if (v !== undefined && v.includes('\0')) throw invalid(this.method, field, 'a file path (no NUL bytes)', v);
    return v;
  }

  strings(field: string, maxItems: number, maxLength: number): string[] | undefined {
    const v = this.get(field);
    if (v === undefined) return undefined;
    const what = `an array of at most ${maxItems} non-empty strings of at most ${maxLength} characters`;
    if (!Array.isArray(v) || v.length > maxItems) throw invalid(this.method, field, what, v);
    v.forEach((x, i) => { if (typeof x !== 'string' || x.length === 0 || x.length > maxLength) throw invalid(this.method, `${field}[${i}]`, 'a non-empty string of at most ' + maxLength + ' characters', x); });
    return v as string[];
  }
}
