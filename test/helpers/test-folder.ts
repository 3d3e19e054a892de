/** Runs every `*.test.ts` under a folder in this process, in name order (see test/unit.test.ts and
 * test/client.test.ts): each file's top-level tests queue on the one root, so they run one after
 * another as they would alone, without a process of their own to start. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Imports each test file under `folder` (a file: URL ending in '/'), but those named in `except`
 * (paths relative to the folder); answers how many. */
export async function importTestFiles(folder: URL, except: readonly string[] = []): Promise<number> {
  const root = fileURLToPath(folder);
  const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.test.ts') && !except.includes(f)).sort();
  for (const file of files) await import(pathToFileURL(join(root, file)).href);
  return files.length;
}
