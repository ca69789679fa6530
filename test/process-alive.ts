// Whether a process still runs: for what a test run or a world's builder left behind (its pid in a name or a file).
// EPERM: it runs, as another user's.
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
