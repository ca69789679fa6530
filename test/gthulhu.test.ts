// The runbook's own idea of Gthulhu's chart (lib/domain/gthulhu.ts), used for plans, dry runs and --render before
// preflight has looked at the cluster: names follow the chart's fullname rule (Gthulhu/Gthulhu v1.3.0
// chart/gthulhu/templates/_helpers.tpl, and charts/mongodb's own helper for MongoDB).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chartDefaults, chartNames, managerService } from '../lib/domain/gthulhu.ts'

test('release prod: <release>-gthulhu for Gthulhu, <release>-mongodb for MongoDB', () => {
  const w = chartDefaults({ release: 'prod' })
  assert.equal(
    [w.manager.name, w.manager.serviceAccount, w.manager.service?.name],
    ['prod-gthulhu-manager', 'prod-gthulhu-manager', 'prod-gthulhu-manager'],
  )
  assert.equal(
    [w.scheduler.name, w.scheduler.serviceAccount, w.scheduler.service?.name, w.scheduler.container],
    ['prod-gthulhu-scheduler', 'prod-gthulhu', 'prod-gthulhu-scheduler-sidecar', 'scheduler-sidecar'],
  )
  assert.equal(
    [w.mongodb.name, w.mongodb.serviceAccount, w.mongodb.service?.name],
    ['prod-mongodb', 'default', 'prod-mongodb'],
  )
  assert.is(w.mongodb.image, 'mongo:8.2.2')
  assert.equal(w.scheduler.selectorLabels, {
    'app.kubernetes.io/name': 'gthulhu',
    'app.kubernetes.io/instance': 'prod',
    'app.kubernetes.io/component': 'scheduler',
  })
  assert.equal(managerService({ release: 'prod' }, {}), { name: 'prod-gthulhu-manager', port: 8080 })
})

test('a release that contains the chart name is the fullname itself', () => {
  assert.equal(chartNames('gthulhu'), {
    manager: 'gthulhu-manager',
    scheduler: 'gthulhu-scheduler',
    schedulerServiceAccount: 'gthulhu',
    decisionMakerService: 'gthulhu-scheduler-sidecar',
    mongodb: 'gthulhu-mongodb',
  })
  assert.is(chartNames('gthulhu-prod').manager, 'gthulhu-prod-manager')
  assert.is(chartNames('my-mongodb').mongodb, 'my-mongodb')
  assert.is(chartNames('my-mongodb').manager, 'my-mongodb-gthulhu-manager')
})

test('Helm truncates the fullname to 63 characters without a trailing dash', () => {
  const release = `${'a'.repeat(54)}-x`
  // 56 characters and "-gthulhu" make 64: Helm keeps the first 63.
  assert.is(chartNames(release).schedulerServiceAccount, `${release}-gthulhu`.slice(0, 63))
  const dashed = 'b'.repeat(62)
  assert.is(chartNames(dashed).schedulerServiceAccount, 'b'.repeat(62), 'the cut leaves "bbb…-", and the dash goes')
})

test.run()
