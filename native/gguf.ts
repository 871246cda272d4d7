// Typed access to the native GGUF reader.
import { addon } from './addon';

export interface GgufKey { key: string; type: string; elementType?: string; length?: number }
export interface GgufTensorInfo { name: string; type: string; shape: number[]; offset: number; nBytes: number }
export type GgufValue = string | number | bigint | boolean | string[] | number[] | null;

export interface GgufFile {
  readonly version: number;
  readonly alignment: number;
  readonly dataOffset: number;
  keys(): GgufKey[];
  get(key: string): GgufValue | undefined;
  tensors(): GgufTensorInfo[];
}

/** Opens and validates a GGUF file; throws an Error naming the file, offset and problem. */
export function openGguf(file: string): GgufFile {
  return new (addon().GgufFile)(file);
}
