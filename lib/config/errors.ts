// Expected failures, each mapped to an exit code in one place. Anything else is a bug and shows its stack.

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const

/** Bad flags, config, names or environment: exit 2, nothing was changed. */
export class UsageError extends Error {
  readonly exitCode = EXIT.usage
}

/** A step or one of its checks failed: exit 1. */
export class StepFailure extends Error {
  readonly exitCode = EXIT.failed
}

/** The operator pressed Ctrl-C or chose to quit: exit 130. */
export class Interrupted extends Error {
  readonly exitCode = EXIT.interrupted
  constructor(message = 'interrupted') {
    super(message)
  }
}

/**
 * A prompt that ended without an answer: Ctrl-C (ExitPromptError), the run's abort signal (AbortPromptError), or
 * the terminal gone (a closed window or a dropped ssh: the prompt's own clean-up fails with EIO). Each is quitting.
 */
export function promptClosed(error: unknown): boolean {
  const { name, code } = (error ?? {}) as { name?: string; code?: string }
  return name === 'ExitPromptError' || name === 'AbortPromptError' || code === 'EIO'
}

/** A spawned command failed; the message carries the command line and what it printed. */
export class CommandError extends StepFailure {
  constructor(
    readonly argv: string[],
    readonly exitCode_: number | null,
    readonly stderr: string,
    readonly stdout: string,
  ) {
    const output = (stderr.trim() || stdout.trim()).split('\n').slice(-8).join('\n')
    super(`\`${argv.join(' ')}\` exited ${exitCode_ ?? 'on a signal'}${output ? `:\n${output}` : ''}`)
  }
}

export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError || error instanceof StepFailure || error instanceof Interrupted) return error.exitCode
  return EXIT.failed
}

export function isExpected(error: unknown): boolean {
  return error instanceof UsageError || error instanceof StepFailure || error instanceof Interrupted
}
