// Guided mode's questions, declared as data beside their validation so tests can drive them.
import { select } from '@inquirer/prompts'
import { Interrupted } from '../config/errors.ts'
import type { Prompter } from '../run/engine.ts'
import type { KubeContext } from '../kube/kubeconfig.ts'

/** Inquirer rejects with ExitPromptError on Ctrl-C; the runbook treats that as quitting. */
async function asked<T>(question: Promise<T>): Promise<T> {
  try {
    return await question
  } catch (error) {
    if ((error as Error).name === 'ExitPromptError' || (error as Error).name === 'AbortPromptError')
      throw new Interrupted('quit at a prompt')
    throw error
  }
}

/** The guided-mode prompter; every prompt closes at once when `signal` aborts (Ctrl-C, SIGTERM). */
export const guidedPrompter = (signal?: AbortSignal): Prompter => ({
  async beforeStep(step, showPlan) {
    for (;;) {
      const choice = await asked(
        select(
          {
            message: `Run ${step.id}?`,
            choices: [
              { name: 'Run this step', value: 'run' as const },
              { name: 'Show the full plan (every command and manifest)', value: 'plan' as const },
              { name: 'Skip this step', value: 'skip' as const },
              { name: 'Run this and all remaining steps without asking', value: 'all' as const },
              { name: 'Quit (state is saved; resume later)', value: 'quit' as const },
            ],
          },
          { signal },
        ),
      )
      if (choice !== 'plan') return choice
      showPlan()
    }
  },
  async afterFailure(step, canRollback) {
    return asked(
      select(
        {
          message: `${step.id} did not verify. What now?`,
          choices: [
            { name: 'Retry the verification (the cluster may need more time)', value: 'retry-verify' as const },
            { name: 'Run the step again', value: 'rerun' as const },
            ...(canRollback ? [{ name: 'Roll the step back', value: 'rollback' as const }] : []),
            { name: 'Accept and continue (recorded as accepted)', value: 'accept' as const },
            { name: 'Quit (state is saved; resume later)', value: 'quit' as const },
          ],
        },
        { signal },
      ),
    )
  },
  async confirmUndo(step) {
    const choice = await asked(
      select(
        {
          message: `Undo ${step.id}?`,
          choices: [
            { name: 'Undo this step as shown', value: 'undo' as const },
            { name: 'Quit (nothing more is undone; run the same command again later)', value: 'quit' as const },
          ],
        },
        { signal },
      ),
    )
    return choice === 'undo'
  },
})

export async function askContext(contexts: KubeContext[], signal?: AbortSignal): Promise<string> {
  return asked(
    select(
      {
        message: 'Which kube context should the runbook harden?',
        choices: contexts.map((c) => ({
          name: `${c.name}${c.current ? ' (current)' : ''} → cluster ${c.cluster}${c.server ? ` at ${c.server}` : ''}`,
          value: c.name,
        })),
      },
      { signal },
    ),
  )
}
