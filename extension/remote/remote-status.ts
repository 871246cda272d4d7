// The status bar in remote mode: the server's measured round-trip time per suggestion, or why there is none.
import type { RemoteState } from './remote-engine';

export interface RemoteStatusView { text: string; tooltip: string; error: boolean }

export function remoteStatusView(state: RemoteState | undefined, endpoint: string | undefined): RemoteStatusView {
  const where = endpoint ?? 'the remote engine';
  if (!state) return { text: '$(cloud) FR-Spec: remote', tooltip: `FR-Spec Complete: remote engine ${where} (no suggestion yet)`, error: false };
  switch (state.kind) {
    case 'ok':
      return { text: `$(cloud) ${Math.round(state.latencyMs)} ms`, tooltip: `FR-Spec Complete: remote engine ${where}; last suggestion ${state.latencyMs.toFixed(0)} ms round trip`, error: false };
    case 'unreachable': {
      const s = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
      return { text: '$(cloud-offline) FR-Spec: unreachable', tooltip: `FR-Spec Complete: ${state.message}; retrying${s ? ` in ${s} s` : ''} when you type`, error: true };
    }
    case 'unauthorized':
      return { text: '$(key) FR-Spec: key refused', tooltip: `FR-Spec Complete: ${state.message}`, error: true };
  }
}
