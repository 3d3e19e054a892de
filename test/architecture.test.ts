/** The house rules of src/, checked rather than hoped for (docs/architecture.md, "Layers"):
 * imports point down the layers, features never import each other, only server/ touches
 * uWebSockets.js, only core/logger.ts makes loggers (pino), the client SDK shares nothing with the
 * server but the protocol module, that module imports no package but msgpackr (it runs in browsers
 * inside the SDK bundle), and no module holds mutable state of its own. */
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

/** Layer of each folder of src/ (top-level files and the CLI are the entry layer, whose parts may
 * use each other). A folder not named here is a feature: features sit between core and engine and
 * may not import one another. */
const ENTRY = 5;
const LAYERS: Record<string, number> = { protocol: 0, lib: 0, core: 1, engine: 3, server: 4, '.': ENTRY, cli: ENTRY };
const FEATURE_LAYER = 2;
const layerOf = (folder: string) => LAYERS[folder] ?? FEATURE_LAYER;

interface Import { file: string; folder: string; specifier: string; target?: string; targetFolder?: string }

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const folderOf = (path: string) => {
  const parts = relative(SRC, path).split(sep);
  return parts.length === 1 ? '.' : parts[0]!;
};

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const found: Import[] = [];
  const pattern = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;
  for (const m of text.matchAll(pattern)) {
    const specifier = (m[1] ?? m[2] ?? m[3])!;
    const entry: Import = { file: relative(SRC, file), folder: folderOf(file), specifier };
    if (specifier.startsWith('.')) {
      entry.target = resolve(dirname(file), specifier);
      entry.targetFolder = folderOf(entry.target);
    }
    found.push(entry);
  }
  return found;
}

const all = sourceFiles(SRC).flatMap(importsOf);
const internal = all.filter((i) => i.targetFolder !== undefined && i.targetFolder !== i.folder);

t.test('the import scan sees the tree', async (t) => {
  t.ok(all.length > 100, `${all.length} imports read`);
  t.ok(internal.some((i) => i.folder === 'engine' && i.targetFolder === 'topics'), 'it recognises an engine -> feature import');
});

t.test('imports point down the layers; features never import each other', async (t) => {
  const wrong = internal.filter((i) => i.folder !== 'client' && i.targetFolder !== 'client' && (
    layerOf(i.targetFolder!) > layerOf(i.folder) ||
    (layerOf(i.targetFolder!) === layerOf(i.folder) && layerOf(i.folder) !== ENTRY)));
  t.same(wrong.map((i) => `${i.file} -> ${i.specifier}`), [], 'no upward or sideways import');
});

t.test('only server/ imports uWebSockets.js', async (t) => {
  const wrong = all.filter((i) => i.specifier === 'uWebSockets.js' && i.folder !== 'server');
  t.same(wrong.map((i) => i.file), []);
});

t.test('only core/logger.ts imports pino', async (t) => {
  // Its redaction (token, key, secret fields; a failed Redis command's arguments) is what keeps
  // credentials out of logs: a logger made anywhere else would log them.
  const wrong = all.filter((i) => (i.specifier === 'pino' || i.specifier.startsWith('pino/')) && i.file !== join('core', 'logger.ts'));
  t.same(wrong.map((i) => i.file), []);
});

t.test('the client SDK imports only the protocol module, and no server code imports the SDK', async (t) => {
  const fromClient = all.filter((i) => i.folder === 'client' && !(i.targetFolder === 'client' || i.targetFolder === 'protocol'));
  t.same(fromClient.map((i) => `${i.file} -> ${i.specifier}`), [], 'client/ -> protocol/ only (and no packages of its own: it runs in browsers)');
  const intoClient = all.filter((i) => i.targetFolder === 'client' && i.folder !== 'client' && i.file !== 'index.ts');
  t.same(intoClient.map((i) => `${i.file} -> ${i.specifier}`), [], 'nothing on the server side imports client/');
});

t.test('the protocol module imports no package but msgpackr, nothing of Node', async (t) => {
  // It is bundled into the browser SDK (scripts/build-sdk-bundle.mjs): a node: built-in or a server
  // package there would break every page, which no Node-side test would notice.
  const wrong = all.filter((i) => i.folder === 'protocol' && i.targetFolder === undefined && i.specifier !== 'msgpackr');
  t.same(wrong.map((i) => `${i.file} -> ${i.specifier}`), []);
});

t.test('no module-level mutable state: no top-level let/var, no top-level Map/Set that is not read-only', async (t) => {
  // Everything lives in the instances createServer() builds, so one process runs two servers that
  // share nothing (docs/architecture.md). A lookup table is declared ReadonlySet/ReadonlyMap, which
  // says it is one and lets the compiler hold it to that.
  const pattern = /^(?:export\s+)?(?:(?:let|var)\s+(\w+)|const\s+(\w+)\s*(?::\s*([^=]+))?=\s*new\s+(?:Map|Set|WeakMap|WeakSet)\b)/gm;
  const found = sourceFiles(SRC).flatMap((file) => [...readFileSync(file, 'utf8').matchAll(pattern)]
    .filter((m) => m[1] !== undefined || !/^\s*Readonly(?:Set|Map)</.test(m[3] ?? ''))
    .map((m) => `${relative(SRC, file)}: ${m[1] ?? m[2]}`));
  t.same(found, []);
});
