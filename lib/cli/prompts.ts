// Guided mode's questions, declared as data beside their validation so tests can drive them.
import { select } from '@inquirer/prompts'
import { asked } from '../config/prompting.ts'
import type { Prompter } from '../run/engine.ts'
import type { KubeContext } from '../kube/kubeconfig.ts'
import { promptTheme, text } from '../config/text.ts'

/** The guided-mode prompter; every prompt closes at once when `signal` aborts (Ctrl-C, SIGTERM). */
export const guidedPrompter = (signal?: AbortSignal): Prompter => ({
  async beforeStep(step, showPlan) {
    for (;;) {
      const choice = await asked(
        select(
          {
            message: text.menu.runStep(step.id),
            theme: promptTheme(),
            choices: [
              { name: text.menu.run, value: 'run' as const },
              { name: text.menu.plan, value: 'plan' as const },
              { name: text.menu.skip, value: 'skip' as const },
              { name: text.menu.all, value: 'all' as const },
              { name: text.menu.quit, value: 'quit' as const },
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
          message: text.menu.afterFailure(step.id),
          theme: promptTheme(),
          choices: [
            { name: text.menu.retryVerify, value: 'retry-verify' as const },
            { name: text.menu.rerun, value: 'rerun' as const },
            ...(canRollback ? [{ name: text.menu.rollback, value: 'rollback' as const }] : []),
            { name: text.menu.accept, value: 'accept' as const },
            { name: text.menu.quit, value: 'quit' as const },
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
          message: text.menu.undoStep(step.id),
          theme: promptTheme(),
          choices: [
            { name: text.menu.undo, value: 'undo' as const },
            { name: text.menu.quitUndo, value: 'quit' as const },
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
        message: text.menu.context,
        theme: promptTheme(),
        choices: contexts.map((c) => ({
          name: text.menu.contextChoice(c.name, !!c.current, c.cluster, c.server),
          value: c.name,
        })),
      },
      { signal },
    ),
  )
}
