// Reads the GitHub-flavoured Markdown tables of a report, asserting that each one is well formed.
import * as assert from 'uvu/assert'

export interface MdTable {
  heading: string
  head: string[]
  rows: string[][]
}

/** The GitHub-flavoured tables of a Markdown file, each under its "## " heading; throws on a malformed one. */
export function markdownTables(markdown: string): MdTable[] {
  const cells = (line: string) =>
    line
      .trim()
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim().replace(/\\\|/g, '|'))
  const tables: MdTable[] = []
  let heading = ''
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith('## ')) heading = lines[i].slice(3)
    if (!lines[i].startsWith('|')) continue
    const head = cells(lines[i])
    const separator = cells(lines[i + 1] ?? '')
    assert.ok(
      separator.length === head.length && separator.every((c) => /^:?-{3,}:?$/.test(c)),
      `table under "${heading}" has a separator row`,
    )
    const rows: string[][] = []
    for (i += 2; i < lines.length && lines[i].startsWith('|'); i++) {
      const row = cells(lines[i])
      assert.is(row.length, head.length, `row of "${heading}" has ${head.length} cells: ${lines[i]}`)
      rows.push(row)
    }
    tables.push({ heading, head, rows })
  }
  return tables
}

export const table = (tables: MdTable[], heading: string) => {
  const found = tables.find((t) => t.heading === heading)
  assert.ok(found, `a table "${heading}"; found: ${tables.map((t) => t.heading).join(', ')}`)
  return found!
}
export const asRecords = (t: MdTable) => t.rows.map((row) => Object.fromEntries(t.head.map((h, i) => [h, row[i]])))
