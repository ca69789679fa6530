// Splits a stream of concatenated JSON values (what `kubectl get --watch -o json` prints, one event after another,
// compact or indented) into parsed values, as the text arrives in chunks of any size.
export class JsonStream {
  private buffer = ''
  private depth = 0
  private inString = false
  private escaped = false
  private start = -1
  private scanned = 0

  /** Adds text; returns the values completed by it. */
  push(chunk: string): unknown[] {
    this.buffer += chunk
    const values: unknown[] = []
    for (let i = this.scanned; i < this.buffer.length; i++) {
      const c = this.buffer[i]
      if (this.inString) {
        if (this.escaped) this.escaped = false
        else if (c === '\\') this.escaped = true
        else if (c === '"') this.inString = false
        continue
      }
      if (c === '"') this.inString = true
      else if (c === '{' || c === '[') {
        if (this.depth++ === 0) this.start = i
      } else if ((c === '}' || c === ']') && this.depth > 0 && --this.depth === 0) {
        values.push(JSON.parse(this.buffer.slice(this.start, i + 1)))
        this.buffer = this.buffer.slice(i + 1)
        i = -1
        this.start = -1
      }
    }
    this.scanned = this.buffer.length
    if (this.depth === 0) {
      // Only whitespace (or stray text kubectl prints between values) is left: nothing to keep.
      this.buffer = ''
      this.scanned = 0
    }
    return values
  }
}
