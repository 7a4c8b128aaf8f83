import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

/**
 * The layering of src/, read from the sources: which folder imports which
 * (static and dynamic relative imports). No folder may import one that
 * imports it back, however long the way round, and the pure core
 * (src/engine/) imports no folder outside it.
 */

const SRC = 'src';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return (
      entry.isDirectory() ? sources(path)
      : entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path]
      : []
    );
  });
}

/** Folder -> the folders its files import (relative to src/, `.` for src/ itself). */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sources(SRC)) {
    const from = relative(SRC, dirname(file)) || '.';
    const edges = graph.get(from) ?? graph.set(from, new Set()).get(from)!;
    for (const match of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const to = relative(SRC, dirname(normalize(join(dirname(file), match[1]!)))) || '.';
      if (to !== from) edges.add(to);
    }
  }
  return graph;
}

/** A cycle through `start`, as a path of folders, or undefined. */
function cycleFrom(graph: Map<string, Set<string>>, start: string): string[] | undefined {
  const seen = new Set<string>();
  const walk = (folder: string, path: string[]): string[] | undefined => {
    for (const next of graph.get(folder) ?? []) {
      if (next === start) return [...path, next];
      if (seen.has(next)) continue;
      seen.add(next);
      const found = walk(next, [...path, next]);
      if (found) return found;
    }
    return undefined;
  };
  return walk(start, [start]);
}

test('no folder of src/ imports a folder that imports it back', () => {
  const graph = folderGraph();
  assert.ok(graph.size > 5, 'the graph was read');
  for (const folder of graph.keys()) assert.equal(cycleFrom(graph, folder)?.join(' -> '), undefined, `a folder cycle through ${folder}`);
});

test('the pure core (src/engine/) imports no folder outside it', () => {
  for (const [folder, imports] of folderGraph()) {
    if (folder !== 'engine' && !folder.startsWith('engine/')) continue;
    for (const to of imports) assert.ok(to === 'engine' || to.startsWith('engine/'), `${folder} imports ${to}`);
  }
});

test('the cycle check finds a cycle when there is one', () => {
  const graph = new Map([
    ['a', new Set(['b'])],
    ['b', new Set(['c'])],
    ['c', new Set(['a'])],
  ]);
  assert.deepEqual(cycleFrom(graph, 'a'), ['a', 'b', 'c', 'a']);
  assert.equal(cycleFrom(new Map([['a', new Set(['b'])]]), 'a'), undefined);
});
