/**
 * SOCKETLENS_* variables that the lab, the compose files, the bench and CI read, rather than a
 * command's options. `socketlens proxy` warns about every other SOCKETLENS_* variable as a
 * probable typo, so a new variable read outside the option lists belongs here.
 */
export const VARIABLES_READ_ELSEWHERE = [
  'LAB_DIR',
  'LAB_KEEP',
  'COMPOSE_DIR',
  'COMPOSE_FILE',
  'COMPOSE_PROJECT',
  'COMPOSE_REACH',
  'COMPOSE_CI',
  'CI_OUT',
  'DOCKER',
  'IMAGE_TAG',
  'IMAGE_CACHE',
  'BENCH_NODE_ARGS',
] as const;
