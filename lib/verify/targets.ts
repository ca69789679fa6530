// How a probe asks each protected target for an answer, and which answer proves it got through.
import type { protectedTargets } from '../domain/network-policies.ts'
import type { ProbeExpectation, ProbeSpec } from './probes.ts'

/** The decision maker's health endpoint, answered on its http port (8080). */
export const SCHEDULER_HEALTH_PATH = '/health'

/**
 * How a probe asks a protected target for an answer, and the answer that proves it got through: MongoDB's hello;
 * the decision maker's GET /health → 200, or → 400 when it serves mutual TLS (Gthulhu's mtls.enabled), where
 * its Go server answers plain HTTP with "400 Bad Request" — still an answer from the far side.
 */
export function targetProbe(target: ReturnType<typeof protectedTargets>[number]) {
  if (target.key === 'mongodb') {
    return {
      destination: `${target.title} :${target.port}`,
      request: { kind: 'mongo', host: target.host, port: target.port } as ProbeSpec['request'],
      answer: { kind: 'answered' } as ProbeExpectation,
    }
  }
  const tls = target.workload.servesTls === true
  return {
    destination: `${target.title} :${target.port}${tls ? ' (mTLS)' : ''}`,
    // The sidecar Service is headless, so its name resolves straight to the decision maker's pod.
    request: {
      kind: 'http',
      url: `http://${target.host}:${target.port}${SCHEDULER_HEALTH_PATH}`,
    } as ProbeSpec['request'],
    answer: { kind: 'status', status: tls ? 400 : 200 } as ProbeExpectation,
  }
}
