import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HAND_WRITTEN_HEADING, keepHandWritten, renderDocument, table } from '../../scripts/bench/markdown.js';
import { formatRatio, meets, median, ratio } from '../../scripts/bench/stats.js';
import { renderSvg, ticks } from '../../scripts/bench/svg.js';

/** The pure parts of npm run bench: the arithmetic, the tables and the plot. */

describe('median', () => {
  test('is the middle value of an odd count, whatever the order', () => {
    assert.equal(median([9, 1, 5]), 5);
  });
  test('is the mean of the two middle values of an even count', () => {
    assert.equal(median([4, 1, 10, 2]), 3);
  });
  test('is NaN for no values, and leaves its input unsorted', () => {
    assert.ok(Number.isNaN(median([])));
    const values = [3, 1, 2];
    median(values);
    assert.deepEqual(values, [3, 1, 2]);
  });
});

describe('ratio and goals', () => {
  test('divides, and cannot be read when either side is missing or the whole is 0', () => {
    assert.equal(ratio(11, 10), 1.1);
    assert.ok(Number.isNaN(ratio(1, 0)));
    assert.ok(Number.isNaN(ratio(Number.NaN, 1)));
    assert.equal(formatRatio(1.104), '1.10×');
    assert.equal(formatRatio(Number.NaN), '–');
  });
  test('a goal is met at or under its bound, and unknown when nothing was measured', () => {
    assert.equal(meets(1.1, { atMost: 1.1 }), true);
    assert.equal(meets(1.11, { atMost: 1.1 }), false);
    assert.equal(meets(Number.NaN, { atMost: 1.1 }), null);
  });
});

describe('markdown', () => {
  test('a table has a header, a rule and one row per entry, pipes in cells escaped', () => {
    assert.equal(
      table(
        ['hosts', 'ratio'],
        [
          ['1', '1.05×'],
          ['4', 'a | b'],
        ],
      ),
      '| hosts | ratio |\n| --- | --- |\n| 1 | 1.05× |\n| 4 | a \\| b |',
    );
  });
  test('the document lists every goal with its verdict and links each figure', () => {
    const text = renderDocument(
      { date: '2026-01-01 00:00 UTC', commit: 'abc1234', dirty: false, quick: true, command: 'npm run bench -- --quick', durationMs: 60_000 },
      [['cores', '2']],
      [
        {
          title: 'One',
          goals: [{ figure: 'f1', measured: '1.20×', goal: '≤ 1.10×', met: false }],
          body: 'body one',
          figures: [{ file: 'one.svg', caption: 'plot one', svg: '<svg/>' }],
        },
        { title: 'Two', goals: [{ figure: 'f2', measured: '–', goal: '1', met: null }], body: 'body two', figures: [] },
      ],
      'benchmarks',
    );
    assert.match(text, /\| f1 \| 1\.20× \| ≤ 1\.10× \| not met \|/);
    assert.match(text, /\| f2 \| – \| 1 \| not measured \|/);
    assert.match(text, /commit `abc1234`.*quick mode/);
    assert.match(text, /## One\n\nbody one\n\n!\[plot one\]\(benchmarks\/one\.svg\)/);
    assert.match(text, /\| cores \| 2 \|/);
  });
  test("a new run keeps the previous file's hand-written part, and only that", () => {
    const previous = `# Benchmarks\n\nold figures\n\n${HAND_WRITTEN_HEADING}\n\nwhy it is fast\n`;
    assert.equal(keepHandWritten('# Benchmarks\n\nnew figures\n', previous), `# Benchmarks\n\nnew figures\n\n${HAND_WRITTEN_HEADING}\n\nwhy it is fast\n`);
    assert.equal(keepHandWritten('# Benchmarks\n\nnew figures\n', undefined), '# Benchmarks\n\nnew figures\n', 'no previous file');
    assert.equal(keepHandWritten('new\n', '# Benchmarks\n\nold figures\n'), 'new\n', 'a previous file without the part');
    assert.equal(keepHandWritten('new\n', `text ${HAND_WRITTEN_HEADING} inline\n`), 'new\n', 'only a heading line counts');
  });
  test('BENCHMARKS.md ends with its hand-written part', () => {
    const text = readFileSync(join(import.meta.dirname, '../../BENCHMARKS.md'), 'utf8');
    const at = text.search(new RegExp(`^${HAND_WRITTEN_HEADING}$`, 'm'));
    assert.ok(at > 0, `BENCHMARKS.md has a line "${HAND_WRITTEN_HEADING}"`);
    assert.equal(keepHandWritten('# Benchmarks\n', text), `# Benchmarks\n\n${text.slice(at)}`);
  });
});

describe('svg plot', () => {
  const points = (svg: string) =>
    [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"[^>]*><title>([^<]*)<\/title>/g)].map((m) => ({ cx: Number(m[1]), cy: Number(m[2]), title: m[3]! }));

  test('draws every given point once, named by its series and value', () => {
    const svg = renderSvg({
      title: 'wall time',
      xLabel: 'hosts',
      yLabel: 's',
      series: [
        {
          name: 'action',
          points: [
            { x: 1, y: 2 },
            { x: 4, y: 3 },
            { x: 8, y: 5 },
          ],
        },
        {
          name: 'script',
          points: [
            { x: 1, y: 1 },
            { x: 8, y: 1.5 },
          ],
        },
      ],
    });
    assert.deepEqual(
      points(svg).map((p) => p.title),
      ['action: x=1, y=2', 'action: x=4, y=3', 'action: x=8, y=5', 'script: x=1, y=1', 'script: x=8, y=1.5'],
    );
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<text[^>]*>action<\/text>/);
  });

  test('places points left to right by x and higher up for larger y', () => {
    const drawn = points(
      renderSvg({
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        series: [
          {
            name: 's',
            points: [
              { x: 8, y: 1 },
              { x: 1, y: 4 },
              { x: 4, y: 2 },
            ],
          },
        ],
      }),
    );
    const byX = [...drawn].sort((a, b) => a.cx - b.cx).map((p) => p.title);
    assert.deepEqual(byX, ['s: x=1, y=4', 's: x=4, y=2', 's: x=8, y=1']);
    const byHeight = [...drawn].sort((a, b) => a.cy - b.cy).map((p) => p.title);
    assert.deepEqual(byHeight, ['s: x=1, y=4', 's: x=4, y=2', 's: x=8, y=1']);
  });

  test('on a log2 axis 1, 4, 16 are evenly spaced; points that cannot be drawn are left out', () => {
    const drawn = points(
      renderSvg({
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        xScale: 'log2',
        series: [
          {
            name: 's',
            points: [
              { x: 1, y: 1 },
              { x: 4, y: 1 },
              { x: 16, y: 1 },
              { x: 2, y: Number.NaN },
            ],
          },
        ],
      }),
    );
    assert.equal(drawn.length, 3);
    assert.ok(Math.abs(drawn[1]!.cx - drawn[0]!.cx - (drawn[2]!.cx - drawn[1]!.cx)) < 0.2);
  });

  test('axis ticks are round steps from 0 that reach the largest value', () => {
    assert.deepEqual(ticks(8.3), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(ticks(4), [0, 1, 2, 3, 4]);
    assert.deepEqual(ticks(0.45), [0, 0.1, 0.2, 0.3, 0.4, 0.5]);
  });

  test('text is escaped', () => {
    assert.match(renderSvg({ title: 'a < b & c', xLabel: 'x', yLabel: 'y', series: [] }), /a &lt; b &amp; c/);
  });
});
