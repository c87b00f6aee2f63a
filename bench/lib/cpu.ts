/**
 * CPU time of this process over a timed window (`process.cpuUsage`, user + system): the servers
 * run in processes of their own, so what it counts is the client's work.
 */

/** Starts a window; the returned function gives the microseconds of CPU used since. */
export const cpuWindow = (): () => number => {
  const start = process.cpuUsage()
  return () => {
    const used = process.cpuUsage(start)
    return used.user + used.system
  }
}
