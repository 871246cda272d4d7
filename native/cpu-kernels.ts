// Which CPU kernel variant the native engine uses on this machine (native/addon/bind_cpu.cpp): one build
// holds the kernels for several instruction sets (x86-64: v3 = AVX2, avx512, amx) and picks the best this
// CPU runs, or the one FRSPEC_CPU_VARIANT names (native/src/engine/cpu_variant.h).
import { addon } from './addon';

export interface CpuKernelVariant {
  name: string;       // 'v3' | 'avx512' | 'amx' | 'native' | 'generic'
  isa: string;        // what its kernels use, e.g. 'avx512-vnni + amx-int8'
  runsHere: boolean;
  missing?: string;   // when it does not run here: what the CPU lacks
}

export interface CpuKernels {
  chosen: string | null;  // null when FRSPEC_CPU_VARIANT names a variant that cannot run (see error)
  isa?: string;
  summary?: string;       // 'amx (avx512-vnni + amx-int8), chosen from: v3, avx512, amx'
  error?: string;
  variants: CpuKernelVariant[];
}

export function cpuKernels(): CpuKernels {
  return addon().cpuKernels();
}
