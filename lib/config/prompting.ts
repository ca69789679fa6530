// What every guided prompt shares: closing without an answer means quitting, and the -v command lines that
// background work (record writes, probe clean-up) prints are held while a prompt is on the screen. Written beside a
// prompt, a line on the same terminal can land inside a half-written wide character of the prompt's redraw when the
// terminal is slow to read, leaving it garbled; held, it prints once the prompt is answered.
import { Interrupted, promptClosed } from './errors.ts'
import { text } from './text.ts'

let promptsOnScreen = 0
let held: string[] = []

/** Waits for a prompt's answer; a prompt closed without one (Ctrl-C, the run stopping, the terminal gone) is quitting. */
export async function asked<T>(question: Promise<T>): Promise<T> {
  promptsOnScreen++
  try {
    return await question
  } catch (error) {
    if (promptClosed(error)) throw new Interrupted(text.run.quitAtPrompt)
    throw error
  } finally {
    if (--promptsOnScreen === 0) {
      const lines = held
      held = []
      for (const line of lines) process.stderr.write(line)
    }
  }
}

/** Writes a line to stderr now, or once no prompt is on the screen. */
export function writeBesidePrompts(line: string): void {
  if (promptsOnScreen) held.push(line)
  else process.stderr.write(line)
}
