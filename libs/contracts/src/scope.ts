/** SPEC §2: every project has exactly these three environments. */
export const ENVIRONMENTS = ['live', 'sandbox', 'test'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

export function isEnvironment(value: unknown): value is Environment {
  return typeof value === 'string' && (ENVIRONMENTS as readonly string[]).includes(value);
}

/**
 * The (project, environment) pair every read and write is bound to. The gateway's auth guard is
 * the only place that creates one from a request; everything downstream takes it as given.
 */
export interface Scope {
  readonly projectId: string;
  readonly environment: Environment;
}

/** Stream names make isolation structural: `<project>.<environment>.<aggregate>-<id>` (SPEC §1). */
export function streamName(scope: Scope, aggregate: string, id: string): string {
  return `${scope.projectId}.${scope.environment}.${aggregate}-${id}`;
}

/** Reads the scope back out of a stream name. */
export function parseStreamName(name: string): { scope: Scope; aggregate: string; id: string } | null {
  const match = /^([^.]+)\.(live|sandbox|test)\.([a-z_]+)-(.+)$/.exec(name);
  if (!match) return null;
  return {
    scope: { projectId: match[1], environment: match[2] as Environment },
    aggregate: match[3],
    id: match[4],
  };
}
