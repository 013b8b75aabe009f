/**
 * One line per command, shown by `socketlens --help` and at the top of each command's help. Kept
 * apart from the command modules so the command list loads none of them.
 */
export const SUMMARIES = {
  proxy: 'Run the sidecar proxy in front of a backend and record what its real-time connections do.',
  lab: 'Run the chaos drills (real nginx, HAProxy, Toxiproxy, Redis) and write a report.',
  doctor:
    'Probe a WebSocket/SSE/long-poll endpoint (TLS, upgrade, idle cuts, buffering) and say what to fix.',
  fault: "Inject frame-level faults into a running sidecar's connections (needs --faults).",
} as const;
