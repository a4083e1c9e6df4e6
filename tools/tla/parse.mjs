// Parses every models/*.tla with the TLA+ project's tree-sitter grammar
// (@tlaplus/tree-sitter-tlaplus, run through web-tree-sitter) and exits
// non-zero if any file has a syntax error (an ERROR or MISSING node) or no
// module at all.  Usage: node parse.mjs [file.tla ...] (default: models/*.tla).
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Language, Parser } from 'web-tree-sitter';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const modelsDir = path.join(repoRoot, 'models');

const files = process.argv.length > 2
  ? process.argv.slice(2)
  : readdirSync(modelsDir).filter((f) => f.endsWith('.tla')).sort()
      .map((f) => path.join(modelsDir, f));
if (files.length === 0) {
  console.error(`tla-parse: no .tla files found in ${modelsDir}`);
  process.exit(1);
}

await Parser.init();
const language = await Language.load(
  require.resolve('@tlaplus/tree-sitter-tlaplus/tree-sitter-tlaplus.wasm'));
const parser = new Parser();
parser.setLanguage(language);

// Collects every ERROR or MISSING node below `node`.
function problems(node, out) {
  if (node.isError || node.isMissing) {
    out.push(node);
    return out;
  }
  for (const child of node.children) {
    if (child.hasError || child.isMissing || child.isError) problems(child, out);
  }
  return out;
}

let failed = 0;
for (const file of files) {
  const source = readFileSync(file, 'utf8');
  const tree = parser.parse(source);
  const root = tree.rootNode;
  const found = problems(root, []);
  const modules = root.children.filter((c) => c.type === 'module');
  const name = path.relative(repoRoot, path.resolve(file));
  if (found.length === 0 && modules.length === 1) {
    const defs = modules[0].descendantsOfType('operator_definition').length;
    console.log(`ok    ${name} (module ${modules[0].childForFieldName('name')?.text}, ${defs} definitions)`);
    continue;
  }
  failed++;
  if (modules.length !== 1) console.log(`FAIL  ${name}: expected one module, found ${modules.length}`);
  for (const node of found) {
    const { row, column } = node.startPosition;
    const kind = node.isMissing ? `MISSING ${node.type}` : 'ERROR';
    const text = node.text.split('\n')[0].slice(0, 60);
    console.log(`FAIL  ${name}:${row + 1}:${column + 1}: ${kind} near "${text}"`);
  }
}
console.log(`tla-parse: ${files.length - failed} of ${files.length} files parsed cleanly`);
process.exit(failed === 0 ? 0 : 1);
