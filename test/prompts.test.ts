// Guided-mode questions, rendered with @inquirer/testing: what they offer and what input they refuse.
import { checkbox, confirm, input, select } from '@inquirer/prompts'
import { render } from '@inquirer/testing'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { GUIDE_USER_AGENT, loadConfig } from '../lib/config/options.ts'
import {
  anyUserAgentPrompt,
  applySavedAnswers,
  BROWSER_CHOICES,
  browsersPrompt,
  customUserAgentsPrompt,
  ingressPrompt,
  openQuestions,
  principalsPrompt,
  validatePrincipalList,
  validateUserAgentList,
} from '../lib/run/questions.ts'
import { userAgentProblem } from '../lib/config/user-agents.ts'

/** The rendered screen with inquirer's line wrapping undone. */
const flat = (screen: string) => screen.replace(/\s*\n\s*/g, ' ')

test('every browser choice is a pattern Istio can match', () => {
  for (const choice of BROWSER_CHOICES) assert.is(userAgentProblem(choice.value), undefined, choice.name())
  assert.is(BROWSER_CHOICES[0].value, GUIDE_USER_AGENT)
})

test('the identities prompt refuses malformed principals and accepts a valid list', async () => {
  const { answer, events, getScreen } = await render(input, principalsPrompt(['cluster.local/ns/default/sa/gthulhu']))
  assert.match(getScreen(), /Which identities may call the manager/)
  events.keypress({ name: 'backspace', ctrl: true })
  for (let i = 0; i < 40; i++) events.keypress('backspace')
  events.type('gthulhu')
  events.keypress('enter')
  await new Promise((r) => setTimeout(r, 20))
  assert.match(
    flat(getScreen()),
    /"gthulhu" is not an Istio principal like cluster\.local\/ns\/<namespace>\/sa\/<serviceaccount>/,
  )
  for (let i = 0; i < 10; i++) events.keypress('backspace')
  events.type('cluster.local/ns/default/sa/gthulhu,cluster.local/ns/ops/sa/admin')
  events.keypress('enter')
  assert.is(await answer, 'cluster.local/ns/default/sa/gthulhu,cluster.local/ns/ops/sa/admin')
})

test('the identities prompt suggests the scheduler identity; Enter accepts it', async () => {
  const { answer, events } = await render(input, principalsPrompt(['cluster.local/ns/default/sa/gthulhu']))
  events.keypress('enter')
  assert.is(await answer, 'cluster.local/ns/default/sa/gthulhu')
})

test('a typed User-Agent with an inner "*" is refused with the forms Istio supports', async () => {
  const { answer, events, getScreen } = await render(input, customUserAgentsPrompt())
  events.type('Mozilla/5.0 * Chrome/*')
  events.keypress('enter')
  await new Promise((r) => setTimeout(r, 20))
  assert.match(flat(getScreen()), /Mozilla\/5\.0 \* Chrome\/\*/)
  assert.match(flat(getScreen()), /prefix/)
  for (let i = 0; i < 30; i++) events.keypress('backspace')
  events.type('*Firefox/128.0|curl/*')
  events.keypress('enter')
  assert.is(await answer, '*Firefox/128.0|curl/*')
})

test("the browsers prompt starts with the guide's choice ticked and needs at least one", async () => {
  const { answer, events, getScreen } = await render(checkbox, browsersPrompt())
  assert.match(getScreen(), /◉ Chrome on macOS \(the guide's choice\)/)
  events.keypress('space') // untick the only ticked choice
  events.keypress('enter')
  await new Promise((r) => setTimeout(r, 20))
  assert.match(getScreen(), /pick at least one/)
  events.keypress('down')
  events.keypress('space')
  events.keypress('enter')
  assert.equal(await answer, [BROWSER_CHOICES[1].value])
})

test('the ingress prompt says plainly what each answer does', async () => {
  const { answer, events, getScreen } = await render(select, ingressPrompt('gthulhu-gw'))
  assert.match(getScreen(), /No \(the guide\)/)
  events.keypress('down')
  assert.match(flat(getScreen()), /istio\.io\/ingress-use-waypoint=true.*…\/sa\/gthulhu-gw-istio/)
  events.keypress('enter')
  assert.is(await answer, true)
})

test('validators: principal and User-Agent lists', () => {
  assert.is(validatePrincipalList('cluster.local/ns/a/sa/b'), true)
  assert.match(String(validatePrincipalList('')), /at least one/)
  assert.match(String(validateUserAgentList('a*b')), /a\*b/)
  assert.is(validateUserAgentList('exact-agent|prefix*|*suffix|*'), true)
})

test('"*" alone as a typed User-Agent is confirmed first, and the default answer is no', async () => {
  const { answer, events, getScreen } = await render(confirm, anyUserAgentPrompt)
  assert.match(
    flat(getScreen()),
    /"\*" lets any client that sends a User-Agent header through the gateway .* Is that what you mean\?/,
  )
  events.keypress('enter')
  assert.is(await answer, false)
})

test('answers given before are not asked again; a flag wins over a kept answer', () => {
  const config = loadConfig(['--ingress-via-waypoint'], {})
  const kept = { managerPrincipals: ['cluster.local/ns/default/sa/ops'], ingressViaWaypoint: false }
  applySavedAnswers(config, kept)
  assert.equal(config.managerPrincipals, ['cluster.local/ns/default/sa/ops'])
  assert.is(config.ingressViaWaypoint, true, 'the flag given this time wins')
  assert.equal(
    openQuestions('l7-policies', config, kept).map((q) => q.flag),
    ['--allowed-user-agents'],
  )
  assert.equal(openQuestions('preflight', config, {}), [])
})

test.run()
