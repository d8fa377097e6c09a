import assert from 'node:assert/strict';

/** RFC 4180, as pandas reads it: quoted cells may hold commas, quotes are doubled. */
export function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\n') row.push(cell), rows.push(row), (row = []), (cell = '');
    else cell += c;
  }
  const [header, ...body] = rows;
  return body.map((cells) => {
    assert.equal(cells.length, header!.length, `a row of ${cells.length} cells under a header of ${header!.length}`);
    return Object.fromEntries(header!.map((name, i) => [name, cells[i]!]));
  });
}
