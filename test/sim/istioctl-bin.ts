// Source of the fake `istioctl` binary the release mirror packs: a self-contained Node script (node:*
// imports only, works whether Node loads it as CommonJS or ESM) with its version baked in. Offline
// commands run locally; everything else is sent to the simulated cluster found through the kubeconfig.

const CLIENT_BODY = String.raw`
(async () => {
  const fs = await import('node:fs')
  const os = await import('node:os')
  const path = await import('node:path')
  const http = await import('node:http')
  const https = await import('node:https')
  const args = process.argv.slice(2)
  const out = (s) => process.stdout.write(s)
  const fail = (message, code) => {
    process.stderr.write(message + '\n')
    process.exit(code === undefined ? 1 : code)
  }
  const flagValue = (names) => {
    for (let i = 0; i < args.length; i++) {
      for (const n of names) {
        if (args[i] === n) return args[i + 1]
        if (args[i].startsWith(n + '=')) return args[i].slice(n.length + 1)
      }
    }
    return undefined
  }
  const positional = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a.startsWith('-')) {
      if (!a.includes('=') && ['-n', '--namespace', '-c', '--kubeconfig', '--context', '-o', '--output', '--name', '-f', '--filename', '--set', '-i', '--istioNamespace', '--revision', '-r', '--for', '--timeout', '--waypoint-timeout', '--workload-namespace', '--node', '--overwrite'].includes(a)) i++
      continue
    }
    positional.push(a)
  }
  const command = positional[0]

  if (!command || command === 'help' || args.includes('--help') || args.includes('-h')) {
    out('Istio configuration command line utility for service operators to\ndebug and diagnose their Istio mesh.\n\nUsage:\n  istioctl [command]\n\nAvailable Commands:\n  analyze         Analyze Istio configuration and print validation messages\n  install         Applies an Istio manifest, installing or reconfiguring Istio on a cluster.\n  uninstall       Uninstall Istio from a cluster\n  version         Prints out build version information\n  waypoint        Manage waypoint configuration\n  x               Experimental commands that may be modified or deprecated\n  ztunnel-config  Update or retrieve current Ztunnel configuration.\n\nFlags:\n      --context string      Kubernetes configuration context\n  -c, --kubeconfig string   Kubernetes configuration file\n  -n, --namespace string    Kubernetes namespace\n\nUse "istioctl [command] --help" for more information about a command.\n')
    process.exit(0)
  }

  const remoteFlag = flagValue(['--remote'])
  if (command === 'version' && (remoteFlag === 'false' || args.includes('--remote=false'))) {
    const format = flagValue(['-o', '--output'])
    if (format === 'json') {
      out(JSON.stringify({ clientVersion: { version: VERSION, revision: 'sim', golang_version: 'go1.24.0', status: 'Clean', tag: VERSION } }, null, 2) + '\n')
    } else if (args.includes('--short')) {
      out(VERSION + '\n')
    } else {
      out('client version: ' + VERSION + '\n')
    }
    process.exit(0)
  }

  // ---- kubeconfig (a block-style YAML subset, or JSON) ----
  const parseScalar = (s) => {
    s = s.trim()
    if (s === '' || s === '~' || s === 'null') return null
    if (s === '{}') return {}
    if (s === '[]') return []
    if (s.startsWith('"')) return JSON.parse(s)
    if (s.startsWith("'")) return s.slice(1, -1).replace(/''/g, "'")
    if (s === 'true') return true
    if (s === 'false') return false
    return s.replace(/\s+#.*$/, '')
  }
  const parseYaml = (text) => {
    if (text.trim().startsWith('{')) return JSON.parse(text)
    const lines = text.split(/\r?\n/).filter((l) => l.trim() && !l.trim().startsWith('#') && l.trim() !== '---')
    let i = 0
    const indentOf = (l) => l.length - l.trimStart().length
    const parseBlock = (indent) => {
      if (i >= lines.length) return null
      const first = lines[i]
      if (first.trimStart().startsWith('- ') || first.trim() === '-') return parseSeq(indentOf(first))
      return parseMap(indentOf(first))
    }
    const parseMap = (indent, initial) => {
      const obj = initial || {}
      while (i < lines.length && indentOf(lines[i]) === indent && !lines[i].trimStart().startsWith('-')) {
        const line = lines[i].trim()
        const colon = line.search(/:(\s|$)/)
        if (colon < 0) { i++; continue }
        const key = parseScalar(line.slice(0, colon))
        const rest = line.slice(colon + 1).trim()
        i++
        if (rest) obj[key] = parseScalar(rest)
        else if (i < lines.length && (indentOf(lines[i]) > indent || (indentOf(lines[i]) === indent && lines[i].trimStart().startsWith('- ')))) obj[key] = parseBlock(indentOf(lines[i]))
        else obj[key] = null
      }
      return obj
    }
    const parseSeq = (indent) => {
      const arr = []
      while (i < lines.length && indentOf(lines[i]) === indent && lines[i].trimStart().startsWith('-')) {
        const content = lines[i].trimStart().slice(1)
        const inner = content.trimStart()
        if (!inner) { i++; arr.push(parseBlock(indent + 2)); continue }
        const itemIndent = indent + 1 + (content.length - inner.length)
        if (/^[^'"]*?:(\s|$)/.test(inner)) {
          lines[i] = ' '.repeat(itemIndent) + inner
          arr.push(parseMap(itemIndent))
        } else {
          arr.push(parseScalar(inner))
          i++
        }
      }
      return arr
    }
    return parseBlock(0) || {}
  }
  const configPaths = () => {
    const explicit = flagValue(['--kubeconfig', '-c'])
    if (explicit) return [explicit]
    if (process.env.KUBECONFIG) return process.env.KUBECONFIG.split(path.delimiter).filter(Boolean)
    return [path.join(os.homedir(), '.kube', 'config')]
  }
  const merged = { clusters: [], contexts: [], users: [] }
  for (const p of configPaths()) {
    let text
    try { text = fs.readFileSync(p, 'utf8') } catch (e) { continue }
    let cfg
    try { cfg = parseYaml(text) } catch (e) { fail('Error: failed to parse kubeconfig ' + p + ': ' + e.message) }
    for (const k of ['clusters', 'contexts', 'users']) merged[k].push(...(cfg[k] || []))
    if (!merged['current-context'] && cfg['current-context']) merged['current-context'] = cfg['current-context']
  }
  const contextName = flagValue(['--context']) || merged['current-context']
  const ctx = merged.contexts.find((c) => c && c.name === contextName)
  if (!ctx) fail('Error: failed to create Kubernetes client: context "' + (contextName || '') + '" does not exist (kubeconfig: ' + configPaths().join(path.delimiter) + ')')
  const cluster = merged.clusters.find((c) => c && c.name === (ctx.context || {}).cluster)
  const user = merged.users.find((u) => u && u.name === (ctx.context || {}).user)
  const server = cluster && cluster.cluster && cluster.cluster.server
  if (!server) fail('Error: failed to create Kubernetes client: no server found for cluster "' + ((ctx.context || {}).cluster || '') + '"')
  const token = user && user.user && user.user.token

  // ---- confirmation prompts, answered on stdin as the real tool does ----
  const confirmed = args.includes('-y') || args.includes('--skip-confirmation')
  const sendArgs = args.slice()
  if ((command === 'install' || command === 'uninstall') && !confirmed && !args.includes('--dry-run')) {
    const profile = (flagValue(['--set']) || '').replace(/^profile=/, '') || 'default'
    out(command === 'install'
      ? 'This will install the Istio ' + VERSION + ' profile "' + profile + '" into the cluster. Proceed? (y/N) '
      : 'All Istio resources will be pruned from the cluster\nProceed? (y/N) ')
    const answer = await new Promise((resolve) => {
      let data = ''
      const done = () => resolve(data)
      process.stdin.on('data', (chunk) => {
        data += chunk
        if (data.includes('\n')) { process.stdin.pause(); done() }
      })
      process.stdin.on('end', done)
      process.stdin.on('error', done)
    })
    if (!/^\s*y(es)?\s*$/i.test(String(answer).split('\n')[0])) {
      out('Cancelled.\n')
      process.exit(1)
    }
    sendArgs.push('-y')
  }

  // ---- the simulated cluster does the work ----
  const url = new URL('/sim/istioctl', server)
  const body = JSON.stringify({ args: sendArgs, version: VERSION, context: contextName })
  const client = url.protocol === 'https:' ? https : http
  // The answer is JSON lines: {stdout} while the command waits, then {stdout, stderr, code, done: true}.
  // 60 s without a byte ends the call (the real tool could wait for ever; callers should bound it anyway).
  const result = await new Promise((resolve) => {
    const req = client.request(url, {
      method: 'POST',
      headers: Object.assign({ 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, token ? { authorization: 'Bearer ' + token } : {}),
      rejectUnauthorized: false,
      timeout: 60000,
    }, (res) => {
      let pending = ''
      let final
      const take = (text) => {
        if (!text.trim()) return
        let message
        try { message = JSON.parse(text) } catch (e) { fail('Error: unexpected answer from ' + server + ' (HTTP ' + res.statusCode + '): ' + text.slice(0, 200)) }
        if (message.done) { final = message; return }
        if (message.stdout) process.stdout.write(message.stdout)
      }
      res.setEncoding('utf8')
      res.on('data', (c) => {
        pending += c
        let newline
        while ((newline = pending.indexOf('\n')) >= 0) {
          take(pending.slice(0, newline))
          pending = pending.slice(newline + 1)
        }
      })
      res.on('end', () => {
        take(pending)
        if (!final) fail('Error: the connection to ' + server + ' closed before istioctl finished')
        resolve(final)
      })
    })
    req.on('timeout', () => req.destroy(new Error('timed out after 60s')))
    req.on('error', (e) => fail('Error: failed to connect to the Kubernetes cluster at ' + server + ': ' + e.message))
    req.end(body)
  })
  if (result.stdout) process.stdout.write(result.stdout)
  if (result.stderr) process.stderr.write(result.stderr)
  process.exitCode = typeof result.code === 'number' ? result.code : 1
})().catch((e) => {
  process.stderr.write('Error: ' + (e && e.message ? e.message : String(e)) + '\n')
  process.exit(1)
})
`

/** The whole `istioctl` script for one version. */
export function istioctlScript(version: string): string {
  return `#!/usr/bin/env node\n// istioctl ${version} (Gthulhu simulated cluster build)\nconst VERSION = ${JSON.stringify(version)};\n${CLIENT_BODY}`
}
