// FR-Spec: Download a Recommended Model… — a Qwen2.5-Coder base GGUF that fits this machine's memory and its
// 0.5B draft, downloaded with progress into the editor's global storage (resumed after a dropped connection or
// a cancel, checked as a GGUF and against a SHA-256 when one is known), then selected with the draft paired.
// The hub's address is HF_ENDPOINT when set (Hugging Face's own variable for mirrors), else huggingface.co.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { downloadModel } from '../../common/download';
import { describeModel } from '../../common/model-info';
import { downloadUrl, HF_BASE_URL, type RecommendedFile, recommendationsFor } from '../../common/recommended-models';
import { useModel } from './select-model';

const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB`;

export async function downloadRecommendedModel(storage: vscode.Uri, log: vscode.LogOutputChannel, baseUrl = process.env.HF_ENDPOINT || HF_BASE_URL): Promise<void> {
  const recs = recommendationsFor(os.totalmem());
  if (recs.length === 0) {
    void vscode.window.showWarningMessage(`FR-Spec: this machine has ${gb(os.totalmem())} of memory; the smallest recommended model needs 4 GB.`);
    return;
  }
  const dir = path.join(storage.fsPath, 'models');
  const have = (f: RecommendedFile) => fs.existsSync(path.join(dir, f.file));
  const pick = await vscode.window.showQuickPick(recs.map((r) => {
    const files = [r.target, ...(r.draft ? [r.draft] : [])];
    const todo = files.filter((f) => !have(f)).reduce((s, f) => s + f.approxBytes, 0);
    return {
      label: r.target.label + (r.draft ? ` + ${r.draft.label.replace('Qwen2.5-Coder ', '')} draft` : ''),
      description: todo ? `about ${gb(todo)} to download` : 'downloaded',
      detail: files.map((f) => f.repo).join(' · '),
      rec: r,
    };
  }), { title: 'FR-Spec: download a recommended model (base models: they complete code; instruct ones chat)', placeHolder: `Fits this machine (${gb(os.totalmem())} of memory); saved in ${dir}` });
  if (!pick) return;
  const files = [pick.rec.target, ...(pick.rec.draft ? [pick.rec.draft] : [])];
  fs.mkdirSync(dir, { recursive: true });
  const done = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'FR-Spec: downloading', cancellable: true }, async (progress, token) => {
    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort());
    try {
      for (const [i, f] of files.entries()) {
        const dest = path.join(dir, f.file);
        if (fs.existsSync(dest)) continue;
        let shown = 0;
        const url = downloadUrl(f, baseUrl);
        log.info(`downloading ${url} -> ${dest}`);
        const r = await downloadModel({
          url, dest, sha256: f.sha256, signal: abort.signal,
          onProgress: (got, total) => {
            const t = total ?? f.approxBytes;
            const pct = Math.min(100, (got / t) * 100);
            progress.report({ message: `${f.label} (${i + 1}/${files.length}): ${gb(got)} of ${gb(t)}`, increment: (pct - shown) / files.length });
            shown = pct;
          },
        });
        log.info(`downloaded ${dest}: ${r.bytes} bytes, sha256 ${r.sha256} (${r.verified === 'none' ? 'no expected hash known: checked as a GGUF only' : `matches the ${r.verified} hash`})${r.resumedFrom.length ? `, resumed at ${r.resumedFrom.join(', ')}` : ''}`);
      }
      return true;
    } catch (e) {
      log.error(`download failed: ${(e as Error).message}`);
      void vscode.window.showErrorMessage(`FR-Spec: ${(e as Error).message}`);
      return false;
    } finally {
      sub.dispose();
    }
  });
  if (!done) return;
  const models = files.map((f) => describeModel(path.join(dir, f.file), f.label, 'downloaded'));
  await useModel(models[0], models);
}
